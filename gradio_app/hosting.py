"""Where the app runs: on a laptop, or as a Hugging Face Space (which sets SPACE_ID).

On a Space the server must listen on all interfaces (the Space proxy connects from outside the
container) and data belongs on the persistent `/data` volume when the Space has one; otherwise it
is lost at every restart, which the start-up log says.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gradio_app.config import DEFAULT_DATA_DIR

SPACE_PERSISTENT_DIR = Path("/data")


@dataclass(frozen=True)
class HostDefaults:
    host: str
    data_dir: Path
    on_space: bool
    persistent: bool


def host_defaults(env: Mapping[str, str] | None = None, persistent_dir: Path = SPACE_PERSISTENT_DIR) -> HostDefaults:
    env = os.environ if env is None else env
    on_space = bool(env.get("SPACE_ID"))
    if env.get("PWEBUI_DATA_DIR"):
        data_dir, persistent = Path(env["PWEBUI_DATA_DIR"]), True
    elif on_space and persistent_dir.is_dir() and os.access(persistent_dir, os.W_OK):
        data_dir, persistent = persistent_dir / "personalities-webui", True
    else:
        data_dir, persistent = DEFAULT_DATA_DIR, not on_space
    host = env.get("PWEBUI_HOST") or ("0.0.0.0" if on_space else "127.0.0.1")  # noqa: S104 - Spaces need it
    return HostDefaults(host=host, data_dir=data_dir, on_space=on_space, persistent=persistent)
