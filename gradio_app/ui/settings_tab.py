"""Settings tab: model, models zoo, binding, sampling override, prompt format, data; Apply / Save /
Reset. Widgets <-> SettingsController calls; the rules live in gradio_app/settings_controller.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from gradio_app.config import GLOBAL_KEYS, AppSettings
from gradio_app.context import AppContext
from gradio_app.generation.models_zoo import CATALOG, DownloadError
from gradio_app.generation.params import PARAM_RANGES, GenerationParams
from gradio_app.personalities.prompt import PROMPT_FORMATS
from gradio_app.personalities.schema import PersonalityError
from gradio_app.session import ChatSession
from gradio_app.settings_controller import ApplyReport, last_generation_facts, model_facts, page_api_key

PARAM_LABELS = {
    "temperature": "Temperature (higher: more creative)",
    "top_k": "Top-k (0 = off)",
    "top_p": "Top-p",
    "repeat_penalty": "Repeat penalty",
    "repeat_last_n": "Repeat penalty window (tokens)",
    "n_predict": "Max new tokens (n_predict)",
    "seed": "Seed (-1 = random)",
}
PARAM_NAMES = list(PARAM_LABELS)
_STEPS = {"temperature": 0.05, "top_p": 0.01, "repeat_penalty": 0.01}
BINDING_CHOICES = [("In-process llama.cpp (this machine)", "llama_cpp"), ("OpenAI-compatible server", "openai")]
# The page fields of the global settings, in the order of the Apply inputs after the sampling ones.
GLOBAL_FIELDS = (
    "default_personality",
    "model.path",
    "model.n_ctx",
    "model.n_threads",
    "model.n_batch",
    "model.n_gpu_layers",
    "model.folders",
    "binding.kind",
    "binding.base_url",
    "binding.api_key",
    "binding.model",
    "binding.timeout_s",
    "binding.n_ctx",
    "model.state_cache_mb",
)
assert set(GLOBAL_FIELDS) == set(GLOBAL_KEYS)
_DOWNLOAD_POLL_S = 0.5


@dataclass
class SettingsTab:
    banner: gr.Markdown
    model_info: gr.Markdown
    global_fields: list[gr.components.Component]  # GLOBAL_FIELDS order
    prompt_format: gr.Radio
    override: gr.Checkbox
    params: list[gr.components.Component]
    data: gr.Markdown
    zoo_table: gr.Markdown
    baseline: gr.State
    status: gr.Markdown
    model_changes: list[Any] = field(default_factory=list)  # events after which the model may differ

    @property
    def outputs(self) -> list[Any]:
        """The components `view()` updates, in order."""
        return [
            self.banner,
            self.model_info,
            *self.global_fields,
            self.prompt_format,
            self.override,
            *self.params,
            self.data,
            self.zoo_table,
            self.baseline,
        ]


# -- domain -> widgets ----------------------------------------------------------------------------


def shown_params(ctx: AppContext, session: ChatSession, override: bool) -> GenerationParams:
    """With override off the sliders show the personality's own values (read-only)."""
    if override:
        return session.user_params
    try:
        return ctx.runner.params_for(session, ctx.zoo.get(session.personality_id))
    except PersonalityError:
        return ctx.runner.defaults


def param_updates(params: GenerationParams, interactive: bool) -> list[Any]:
    return [gr.update(value=getattr(params, name), interactive=interactive) for name in PARAM_NAMES]


def banner_text(ctx: AppContext, session: ChatSession) -> str:
    lines = []
    if ctx.controller.locked:
        lines.append(f"🔒 The model, binding and defaults are locked: {ctx.controller.locked}.")
    unsaved = ctx.controller.unsaved(session)
    if unsaved:
        listed = "; ".join(c.describe() for c in unsaved[:8]) + ("; …" if len(unsaved) > 8 else "")
        lines.append(
            f"⚠️ **Applied but not saved** — lost when the app restarts: {listed}. Click **Save** to keep them."
        )
    else:
        lines.append(f"✅ The settings in force are the saved ones (`{ctx.paths.settings_file}`).")
    for name, value in ctx.controller.overrides.items():
        lines.append(f"ℹ️ `{name}` = {value!r} comes from a command-line flag or environment variable (this run only).")
    return "\n\n".join(lines)


def model_info_text(ctx: AppContext) -> str:
    rows = model_facts(ctx.service.info, ctx.service.load_error, ctx.settings)
    return "  \n".join(f"**{label}:** {value}" for label, value in rows)


def data_text(ctx: AppContext) -> str:
    rows = [f"| {label} | `{path}` |" for label, path in ctx.controller.data_locations()]
    return "| What | Where |\n| --- | --- |\n" + "\n".join(rows)


def zoo_text(ctx: AppContext) -> str:
    hub, downloads = ctx.hub, ctx.downloads
    assert hub is not None and downloads is not None
    online = hub.online
    by_hand = (
        f"To add a model by hand, copy a `.gguf` file into `{ctx.paths.models}` (or an extra models folder) "
        "and press 🔄 **Refresh**, or type the path of any GGUF file on this machine in **Model file**."
    )
    if online is False:
        head = (
            f"⚠️ **{hub.endpoint} cannot be reached from this machine**, so downloads will fail: they need "
            f"network access. {by_hand}"
        )
    elif online is None:
        head = f"Checking whether {hub.endpoint} can be reached… {by_hand}"
    else:
        head = f"Downloads come from {hub.endpoint} into `{ctx.paths.models}` (resumable). {by_hand}"
    rows = []
    for m in CATALOG:
        if downloads.installed(m):
            state = "✅ downloaded"
        elif downloads.partial_bytes(m):
            state = f"⏸ {downloads.partial_bytes(m) / 2**20:.0f} MiB so far (Download resumes)"
        else:
            state = ""
        check = "SHA-256 verified" if m.sha256 else "none published"
        rows.append(
            f"| **{m.name}** | {m.parameters} · {m.quantization} · {m.size} | {m.license} | "
            f"[{m.repo}]({m.page}) | {check} | {m.notes} | {state} |"
        )
    table = (
        "| Model | Size | License | Source (Hugging Face) | Checksum | Notes | Status |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows)
    )
    return f"{head}\n\n{table}"


def global_values(settings: AppSettings) -> dict[str, Any]:
    """The page's value for each global field (the API key never goes to the page)."""
    values = {name: settings.get(name) for name in GLOBAL_FIELDS}
    values["model.path"] = values["model.path"] or ""
    values["model.n_threads"] = values["model.n_threads"] or 0
    values["model.folders"] = "\n".join(values["model.folders"])
    values["binding.api_key"] = ""
    return values


def global_updates(ctx: AppContext, settings: AppSettings) -> list[Any]:
    values = global_values(settings)
    updates: list[Any] = []
    for name in GLOBAL_FIELDS:
        value = values[name]
        if name == "model.path":
            choices = [(c.label, c.value) for c in ctx.controller.model_choices()]
            if value and all(v != value for _, v in choices):
                choices.append((value, value))
            updates.append(gr.update(choices=choices, value=value))
        elif name == "default_personality":
            ids = sorted(e.id for e in ctx.zoo.entries.values() if e.ok)
            if value not in ids:
                ids.append(value)
            updates.append(gr.update(choices=ids, value=value))
        elif name == "binding.api_key":
            placeholder = (
                "(a key is set: leave empty to keep it, type none to remove it)" if settings.binding.api_key else ""
            )
            updates.append(gr.update(value="", placeholder=placeholder))
        else:
            updates.append(gr.update(value=value))
    return updates


def view(ctx: AppContext, session: ChatSession, shown: AppSettings | None = None) -> list[Any]:
    """Every settings widget for this browser. `shown` replaces the values in force (Reset)."""
    settings = shown or ctx.controller.current(session)
    override = settings.override_personality_params
    params = settings.user_params if override else shown_params(ctx, session, False)
    baseline = ctx.controller.baseline()
    return [
        banner_text(ctx, session),
        model_info_text(ctx),
        *global_updates(ctx, settings),
        settings.prompt_format,
        override,
        *param_updates(params, override),
        data_text(ctx),
        zoo_text(ctx),
        baseline,
    ]


def report_text(report: ApplyReport, what: str) -> str:
    if not report.ok:
        return "⚠️ " + "  \n".join(report.errors)
    lines = [f"✅ {what}."]
    if report.reloaded:
        lines.append(report.reloaded)
    if report.changes:
        lines.append("Changed: " + "; ".join(c.describe() for c in report.changes) + ".")
    elif not report.saved_to:
        lines.append("Nothing changed.")
    if report.saved_to:
        lines.append(f"Written to `{report.saved_to}`: new sessions and the next start use these values.")
    else:
        lines.append("Applied settings are lost when the app restarts unless you **Save**.")
    return "  \n".join(lines)


def form_values(
    prompt_format: Any,
    override: Any,
    sampling: list[Any],
    global_inputs: dict[str, Any],
) -> dict[str, Any]:
    """Widget values -> flat setting names (None = the API caller left the field out: keep)."""
    raw: dict[str, Any] = {"prompt_format": prompt_format, "override_personality_params": bool(override)}
    raw.update({f"user_params.{n}": v for n, v in zip(PARAM_NAMES, sampling, strict=True)})
    for name, value in global_inputs.items():
        if value is None:
            continue
        if name == "model.folders" and isinstance(value, str):
            value = [line.strip() for line in value.splitlines() if line.strip()]
        if name == "binding.api_key":
            value = page_api_key(value)
            if value is None:
                continue
        raw[name] = value
    return raw


# -- widgets --------------------------------------------------------------------------------------


def build(ctx: AppContext, state: gr.State) -> SettingsTab:
    from llama_cpp import llama_supports_gpu_offload

    gpu = bool(llama_supports_gpu_offload())
    locked = bool(ctx.controller.locked)
    banner = gr.Markdown()
    with gr.Accordion("Model", open=True):
        gr.Markdown(
            "**Global:** one model serves every user of this app. Changing it (and Apply) reloads it for "
            "everyone; a generation in progress finishes first."
        )
        with gr.Row():
            model_path = gr.Dropdown(
                label="Model file",
                info="GGUF files found in the models folders, plus the embedded default; or type any GGUF path",
                allow_custom_value=True,
                interactive=not locked,
                scale=5,
            )
            refresh = gr.Button("🔄 Refresh", scale=1, size="sm")
        with gr.Row():
            n_ctx = gr.Number(
                label="Context size (tokens)", precision=0, minimum=256, maximum=1_048_576, interactive=not locked
            )
            n_threads = gr.Number(
                label="Threads (0 = every core)", precision=0, minimum=0, maximum=1024, interactive=not locked
            )
            n_batch = gr.Number(label="Batch size", precision=0, minimum=1, maximum=65536, interactive=not locked)
            n_gpu_layers = gr.Number(
                label="GPU layers (-1 = all)",
                precision=0,
                minimum=-1,
                interactive=gpu and not locked,
                info=None if gpu else "this llama.cpp build has no GPU offload",
            )
        with gr.Row():
            folders = gr.Textbox(label="Extra models folders (one per line)", lines=2, interactive=not locked, scale=3)
            state_cache_mb = gr.Number(
                label="Saved discussion states (MiB, 0 = off)",
                info="discussions taking turns keep their evaluated history",
                precision=0,
                minimum=0,
                interactive=not locked,
                scale=1,
            )
        with gr.Row():
            load = gr.Button("Load model now", interactive=not locked)
            unload = gr.Button("Unload model", interactive=not locked)
        model_info = gr.Markdown()
    with gr.Accordion("Models zoo", open=False):
        zoo_table = gr.Markdown()
        with gr.Row():
            zoo_pick = gr.Dropdown(
                [(f"{m.name} ({m.size})", m.id) for m in CATALOG],
                label="Model to download",
                value=CATALOG[0].id,
                interactive=not locked,
                scale=3,
            )
            download = gr.Button("Download", variant="primary", interactive=not locked, scale=1)
            cancel_download = gr.Button("Cancel download", interactive=not locked, scale=1)
        download_status = gr.Markdown()
    with gr.Accordion("Binding", open=True):
        gr.Markdown(
            "**Global.** In-process runs the model above inside this app. A server (llama.cpp server, vLLM, "
            "Ollama, TGI...) runs it elsewhere; the app sends it the same prompts. See docs/models.md."
        )
        binding_kind = gr.Radio(BINDING_CHOICES, label="Where the model runs", interactive=not locked)
        with gr.Row():
            base_url = gr.Textbox(
                label="Server URL", placeholder="http://127.0.0.1:8080/v1", scale=3, interactive=not locked
            )
            api_key = gr.Textbox(label="API key", type="password", scale=2, interactive=not locked)
            server_model = gr.Textbox(
                label="Model name on the server", placeholder="(the first it lists)", scale=2, interactive=not locked
            )
        with gr.Row():
            timeout = gr.Number(label="Timeout (seconds)", minimum=1, maximum=3600, interactive=not locked)
            server_n_ctx = gr.Number(
                label="Context size if the server does not tell",
                precision=0,
                minimum=256,
                maximum=1_048_576,
                interactive=not locked,
            )
            test = gr.Button("Test connection", interactive=not locked)
        test_result = gr.Markdown()
    with gr.Accordion("Model configuration", open=True):
        gr.Markdown(
            "**This browser only.** Each personality brings its own sampling parameters. "
            "Check **Override** to use yours instead."
        )
        override = gr.Checkbox(label="Override personality parameters")
        params: list[gr.components.Component] = []
        defaults = GenerationParams()  # initial values = the API's defaults for omitted fields
        for name in PARAM_NAMES:
            low, high, _ = PARAM_RANGES[name]
            value = getattr(defaults, name)
            if name == "seed":
                params.append(
                    gr.Number(
                        value, label=PARAM_LABELS[name], precision=0, minimum=low, maximum=high, interactive=False
                    )
                )
            else:
                step = _STEPS.get(name, 1)
                params.append(gr.Slider(low, high, value=value, step=step, label=PARAM_LABELS[name], interactive=False))
        with gr.Accordion("The last answer's generation facts (parameters used, seed, model)", open=False):
            facts_button = gr.Button("Show", size="sm")
            facts = gr.JSON(label="Metadata of the last answer")
    with gr.Accordion("Prompt format", open=True):
        prompt_format = gr.Radio(
            list(PROMPT_FORMATS),
            value="auto",
            label="How the discussion is written for the model (this browser)",
            info="auto = the model's chat template when it has one, else the personality's prefixes",
        )
        default_personality = gr.Dropdown(
            label="Personality new discussions start with (global)", interactive=not locked
        )
    with gr.Accordion("Data", open=False):
        data = gr.Markdown()
        with gr.Accordion("All settings in force (this browser)", open=False):
            current_button = gr.Button("Show", size="sm")
            current = gr.JSON(label="Settings in force")
    with gr.Row():
        apply = gr.Button("Apply changes", variant="primary")
        save = gr.Button("Save", variant="secondary", interactive=not locked)
        reset = gr.Button("Reset to defaults", variant="secondary")
    status = gr.Markdown("Apply makes changes take effect now; Save also writes them so they survive a restart.")
    baseline = gr.State({})
    global_fields = [
        default_personality,
        model_path,
        n_ctx,
        n_threads,
        n_batch,
        n_gpu_layers,
        folders,
        binding_kind,
        base_url,
        api_key,
        server_model,
        timeout,
        server_n_ctx,
        state_cache_mb,
    ]
    tab = SettingsTab(
        banner, model_info, global_fields, prompt_format, override, params, data, zoo_table, baseline, status
    )

    # -- handlers: widgets in, controller call, widgets out -------------------------------------
    def on_override(checked: bool, session: ChatSession) -> list[Any]:
        return param_updates(shown_params(ctx, session, checked), checked)

    def run(
        action: str,
        session: ChatSession,
        shown: dict[str, Any],
        sampling: tuple[Any, ...],
        globals_in: tuple[Any, ...],
        progress: gr.Progress,
    ) -> list[Any]:
        prompt_format_value, override_value, *param_values = sampling
        global_inputs = dict(zip(GLOBAL_FIELDS, globals_in, strict=True))
        raw = form_values(prompt_format_value, override_value, param_values, global_inputs)
        progress(0, desc="Applying (a model load waits for the running generation, then takes a few seconds)…")
        if action == "save":
            report = ctx.controller.save(session, raw, shown)
            text = report_text(report, "Saved")
        else:
            report = ctx.controller.apply(session, raw, shown, force_activation=action == "load")
            text = report_text(report, "Applied")
        return [*view(ctx, session), text]

    def form_handler(action: str) -> Any:
        """The Apply / Save / Load handler. Explicit parameters (not *args) so API users can call
        /apply_settings and /save_settings by name; the global ones default to None = "leave it"."""

        def handler(
            prompt_format: str,
            override: bool,
            temperature: float,
            top_k: int,
            top_p: float,
            repeat_penalty: float,
            repeat_last_n: int,
            n_predict: int,
            seed: int,
            default_personality: str | None = None,
            model_path: str | None = None,
            n_ctx: int | None = None,
            n_threads: int | None = None,
            n_batch: int | None = None,
            n_gpu_layers: int | None = None,
            model_folders: str | None = None,
            binding: str | None = None,
            server_url: str | None = None,
            server_api_key: str | None = None,
            server_model: str | None = None,
            server_timeout: float | None = None,
            server_n_ctx: int | None = None,
            state_cache_mb: int | None = None,
            session: ChatSession | None = None,
            shown: dict[str, Any] | None = None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented idiom
        ) -> list[Any]:
            assert session is not None
            sampling = (prompt_format, override, temperature, top_k, top_p, repeat_penalty, repeat_last_n,
                        n_predict, seed)  # fmt: skip
            globals_in = (default_personality, model_path, n_ctx, n_threads, n_batch, n_gpu_layers, model_folders,
                          binding, server_url, server_api_key, server_model, server_timeout, server_n_ctx,
                          state_cache_mb)  # fmt: skip
            return run(action, session, shown or {}, sampling, globals_in, progress)

        return handler

    def on_unload(session: ChatSession) -> list[Any]:
        message = ctx.controller.unload()
        return [*view(ctx, session), message]

    def on_reset(session: ChatSession) -> list[Any]:
        return [
            *view(ctx, session, shown=ctx.controller.defaults()),
            "Documented defaults loaded into the form: **Apply** to use them, **Save** to keep them.",
        ]

    def on_refresh(session: ChatSession) -> Any:
        if ctx.hub is not None:
            ctx.hub.refresh(force=True)
        return gr.update(choices=[(c.label, c.value) for c in ctx.controller.model_choices()])

    def on_test(url: str, key: str, model: str, timeout_s: float, n_ctx_value: int) -> str:
        ok, message = ctx.controller.test_connection(
            {
                "binding.base_url": url,
                "binding.api_key": key,
                "binding.model": model,
                "binding.timeout_s": timeout_s,
                "binding.n_ctx": n_ctx_value,
            }
        )
        return ("✅ " if ok else "⚠️ ") + message

    def on_download(model_id: str, session: ChatSession) -> Iterator[list[Any]]:
        assert ctx.downloads is not None
        if ctx.controller.locked:
            yield [f"⚠️ Downloads are locked on this server: {ctx.controller.locked}", gr.update(), gr.update()]
            return
        try:
            job = ctx.downloads.start(model_id)
        except DownloadError as e:
            yield [f"⚠️ {e}", gr.update(), gr.update()]
            return
        while not job.finished.wait(_DOWNLOAD_POLL_S):
            yield [job.describe(), gr.update(), gr.update()]
        choices = [(c.label, c.value) for c in ctx.controller.model_choices()]
        chosen = str(job.dest) if job.ok else gr.update()
        yield [job.describe(), gr.update(choices=choices, value=chosen), zoo_text(ctx)]

    def on_cancel_download(model_id: str) -> str:
        assert ctx.downloads is not None
        ctx.downloads.cancel(model_id)
        time.sleep(_DOWNLOAD_POLL_S)
        job = ctx.downloads.job(model_id)
        return job.describe() if job else "No download of this model is running."

    def on_facts(session: ChatSession) -> dict[str, Any]:
        return last_generation_facts(session)

    def on_current(session: ChatSession) -> dict[str, Any]:
        settings = ctx.controller.current(session).flat()
        settings["binding.api_key"] = "(set)" if settings["binding.api_key"] else ""
        return {
            "settings": settings,
            "unsaved": [c.key for c in ctx.controller.unsaved(session)],
            "settings_file": str(ctx.paths.settings_file),
            "model": model_facts(ctx.service.info, ctx.service.load_error, ctx.settings),
        }

    form = [prompt_format, override, *params, *global_fields, state, baseline]
    outputs = [*tab.outputs, status]
    override.change(on_override, [override, state], params, api_visibility="private")
    tab.model_changes = [
        apply.click(form_handler("apply"), form, outputs, api_name="apply_settings", concurrency_id="settings"),
        save.click(form_handler("save"), form, outputs, api_name="save_settings", concurrency_id="settings"),
        load.click(form_handler("load"), form, outputs, api_name="load_model", concurrency_id="settings"),
        unload.click(on_unload, state, outputs, api_name="unload_model"),
    ]
    reset.click(on_reset, state, outputs, api_name="reset_settings")
    refresh.click(on_refresh, state, model_path, api_visibility="private")
    test.click(
        on_test, [base_url, api_key, server_model, timeout, server_n_ctx], test_result, api_name="test_connection"
    )
    download.click(on_download, [zoo_pick, state], [download_status, model_path, zoo_table], api_name="download_model")
    cancel_download.click(on_cancel_download, zoo_pick, download_status, api_name="cancel_download", queue=False)
    facts_button.click(on_facts, state, facts, api_name="last_generation")
    current_button.click(on_current, state, current, api_name="current_settings")
    return tab
