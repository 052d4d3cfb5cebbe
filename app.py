"""Personalities WebUI entry point: `python app.py [--host H] [--port P] [--share] [--model F] [--data-dir D]
[--auth USER:PASSWORD]... [--auth-file FILE] [--single-user]`.

Every setting with a flag (`--n-ctx`, `--binding`, `--server-url`...) overrides settings.yaml for
this run; see docs/settings.md."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from gradio_app.config import add_setting_flags, overrides_from_args, settings_lock
from gradio_app.hosting import host_defaults


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = host_defaults()
    parser = argparse.ArgumentParser(description="Chat with local language models through personalities.")
    parser.add_argument("--host", default=defaults.host, help="interface to bind (0.0.0.0 on a Space)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PWEBUI_PORT", "7860")), help="port")
    parser.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        type=Path,
        default=defaults.data_dir,
        help="settings, discussions, user zoo and outputs (default: ./data; /data/... on a Space)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[k for k in os.environ.get("PWEBUI_API_KEYS", "").split(",") if k],
        metavar="KEY",
        help="require this bearer key on the OpenAI-compatible /v1 API (repeatable)",
    )
    parser.add_argument(
        "--auth",
        action="append",
        default=[],
        metavar="USER:PASSWORD",
        help="require a sign-in; each user sees only their own discussions (repeatable)",
    )
    parser.add_argument(
        "--auth-file",
        type=Path,
        metavar="FILE",
        help="users for the sign-in, one user:password per line (# comments and blank lines ignored)",
    )
    parser.add_argument(
        "--single-user",
        action="store_true",
        help="local mode: every discussion is visible to every browser (and every signed-in user)",
    )
    parser.add_argument("--mcp", action="store_true", help="also serve MCP tools at /gradio_api/mcp/")
    parser.add_argument(
        "--allow-trust",
        action="store_true",
        help="let visitors trust imported personalities (their scripts run on this machine) even when "
        "the app is shared, hosted or listens beyond localhost",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("PWEBUI_CONCURRENCY", "16")),
        metavar="N",
        help="chats in flight at once; they wait in line for the model and see their place (default 16)",
    )
    parser.add_argument(
        "--max-queue",
        type=int,
        default=int(os.environ.get("PWEBUI_MAX_QUEUE", "64")),
        metavar="N",
        help="requests waiting beyond --concurrency; more are refused with 'queue is full' (default 64)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    add_setting_flags(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "DEBUG":  # one line per HTTP request (server binding, downloads) is noise
        logging.getLogger("httpx").setLevel(logging.WARNING)
    from gradio_app.auth import AUTH_ENV, AuthError, credentials, exposure_warning
    from gradio_app.context import AppContext
    from gradio_app.discussions.ownership import Ownership
    from gradio_app.ui.app import CSS, build_app

    try:
        users = credentials(args.auth, args.auth_file, os.environ.get(AUTH_ENV))
    except AuthError as e:
        raise SystemExit(f"error: {e}") from e
    where = host_defaults()
    if where.on_space and not where.persistent:
        logging.warning("Running on a Space without persistent storage: discussions are lost at restart.")
    warning = exposure_warning(args.host, args.share, bool(users), args.single_user)
    if warning:
        print(warning, flush=True)
        logging.warning(warning)
    ownership = Ownership("single" if args.single_user else "users" if users else "browsers")
    overrides, problems = overrides_from_args(args)
    ctx = AppContext.create(
        args.data_dir,
        overrides=overrides,
        override_problems=problems,
        locked=settings_lock(args),
        ownership=ownership,
    )
    local_only = args.host in ("127.0.0.1", "localhost", "::1") and not args.share and not where.on_space
    ctx.allow_trust = args.allow_trust or local_only
    if os.environ.get("PWEBUI_DOWNLOAD_MODEL", "").strip():
        # a bigger model than the embedded one (e.g. on a Space): serve now, switch when it is in
        ctx.download_model_at_start(os.environ["PWEBUI_DOWNLOAD_MODEL"].strip())
    for notice in ctx.notices:
        logging.warning(notice)
    demo = build_app(ctx, chat_concurrency=max(1, args.concurrency), mcp=args.mcp)
    demo.queue(max_size=max(1, args.max_queue))
    server, local_url, share_url = demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        prevent_thread_lock=True,
        quiet=True,
        mcp_server=args.mcp,
        auth=users or None,
        css=CSS,
        # Only the outputs folder (generated images) is served from the data folder; the rest of
        # it (settings, discussions, logs) stays private.
        allowed_paths=[str(ctx.paths.outputs.resolve())],
    )
    from gradio_app.api.access import ApiAccess, guard_mounts
    from gradio_app.api.openai_server import register_openai_api

    access = ApiAccess(args.api_key, users)
    register_openai_api(server, ctx, access)
    if args.mcp:
        # Gradio mounts its MCP server without the login check: the same rule as /v1 applies.
        guard_mounts(server, "/gradio_api/mcp", access)
    print(f"Discussions: {ownership.describe}" + (f" ({len(users)} users can sign in)" if users else ""), flush=True)
    print(f"Personalities WebUI is running at {local_url}", flush=True)
    print(f"OpenAI-compatible API: {local_url}v1 (models = personality ids)", flush=True)
    if args.mcp:
        print(f"MCP server: {local_url}gradio_api/mcp/", flush=True)
    if share_url:
        print(f"Public share link: {share_url}", flush=True)
    demo.block_thread()


if __name__ == "__main__":
    main()
