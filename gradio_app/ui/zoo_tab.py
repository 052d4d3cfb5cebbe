"""Personalities Zoo tab: browse and search, the card, Apply (installing on first use), trust,
install/uninstall, the personality's own settings, imports and exports.

Widgets <-> domain calls only: what a card says and which actions it allows comes from
personalities/facts.py; installs from personalities/install.py; imports/exports from
personalities/importers and personalities/export.py.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from gradio_app.context import AppContext
from gradio_app.personalities import export
from gradio_app.personalities.facts import facts_of
from gradio_app.personalities.importers import ImportOptions, ImportRejected, import_files
from gradio_app.personalities.install import (
    InstallEvent,
    InstallFinished,
    InstallRefused,
    LogLine,
    StepStarted,
    last_log,
)
from gradio_app.personalities.local_settings import InvalidSetting, SettingField
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.schema import PersonalityError
from gradio_app.session import ChatSession
from gradio_app.ui import zoo_view

EXPORT_MAX_AGE_S = 3600
TRUST_DISABLED = (
    "Trusting personalities is turned off: this app is shared or hosted, and trusting lets a "
    "personality's scripts run on the host. Its owner can start it with --allow-trust."
)
# Installs are serialized by the Installer (with a "waiting" line); other users keep browsing.
ACTION_CONCURRENCY = 8


@dataclass
class ZooTab:
    search: gr.Textbox
    search_info: gr.Markdown
    language: gr.Dropdown
    category: gr.Dropdown
    personality: gr.Dropdown
    logo: gr.Image
    card: gr.Markdown
    apply: gr.Button
    trust: gr.Button
    revoke: gr.Button
    install: gr.Button
    uninstall: gr.Button
    install_log: gr.Textbox
    status: gr.Markdown
    broken: gr.Markdown

    @property
    def card_outputs(self) -> list[Any]:
        return [self.logo, self.card, self.trust, self.revoke, self.install, self.uninstall, self.install_log]

    @property
    def browse_outputs(self) -> list[Any]:
        return [self.language, self.category, self.personality, *self.card_outputs]


# -- values shown -----------------------------------------------------------------------------------
def load_logo(ctx: AppContext, personality_id: str | None) -> Image.Image | None:
    """The logo as an image (not a path), so no zoo file needs to be served directly."""
    entry = ctx.zoo.entry(personality_id or "")
    path = entry.personality.logo_path if entry and entry.personality else None
    if path is None:
        return None
    try:
        with Image.open(path) as img:
            img.thumbnail((256, 256))
            return img.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def card_values(ctx: AppContext, session: ChatSession | None, personality_id: str | None) -> list[Any]:
    """Values for ZooTab.card_outputs."""
    entry = ctx.zoo.entry(personality_id or "")
    if entry is None:
        hidden = gr.update(visible=False)
        return [None, "_Choose a personality._", hidden, hidden, hidden, hidden, ""]
    facts = facts_of(entry)
    active = session is not None and session.personality_id == entry.id
    log = last_log(entry.personality) if entry.personality else ""
    card = zoo_view.card_markdown(facts, active)
    if facts.can_trust and not ctx.allow_trust:
        card += f"\n- {TRUST_DISABLED}"
    return [
        load_logo(ctx, entry.id),
        card,
        gr.update(visible=facts.can_trust and ctx.allow_trust),
        gr.update(visible=facts.can_revoke_trust),
        gr.update(visible=facts.can_install, value="Reinstall" if facts.install == "installed" else "Install"),
        gr.update(visible=facts.can_uninstall),
        log,
    ]


def position_values(ctx: AppContext, session: ChatSession | None, personality_id: str | None) -> list[Any]:
    """Values for ZooTab.browse_outputs: the dropdowns placed on `personality_id`, and its card."""
    entry = ctx.zoo.entry(personality_id or "")
    if entry is None:
        return [gr.update(choices=ctx.zoo.languages()), gr.update(), gr.update(), *card_values(ctx, session, None)]
    zoo = ctx.zoo
    return [
        gr.update(choices=zoo.languages(), value=entry.language),
        gr.update(choices=zoo.categories(entry.language), value=entry.category),
        gr.update(choices=zoo_view.choices(zoo.in_category(entry.language, entry.category)), value=entry.id),
        *card_values(ctx, session, entry.id),
    ]


def zoo_position(ctx: AppContext, session: ChatSession) -> list[Any]:
    """browse_outputs showing the session's current personality (page load)."""
    return position_values(ctx, session, session.personality_id)


# -- actions ------------------------------------------------------------------------------------------
def _personality(ctx: AppContext, personality_id: str | None) -> Personality:
    try:
        return ctx.zoo.get(personality_id or "")
    except PersonalityError as e:
        raise gr.Error(str(e)) from e


def install_status(events: Iterator[InstallEvent], name: str) -> Iterator[tuple[str, str]]:
    """Install events -> (status, log) for the page; gr.Error at the end when it failed or may not run."""
    log, status = "", f"⏳ Installing **{name}**…"
    try:
        for event in events:
            if isinstance(event, StepStarted):
                status = f"⏳ Installing **{name}**: step {event.index}/{event.total}, `{event.title}`…"
                yield status, log
            elif isinstance(event, LogLine):
                log = f"{log}\n{event.text}" if log else event.text
                yield status, log
            elif isinstance(event, InstallFinished):
                log = event.log
                if not event.ok:
                    yield f"❌ {event.message}. Fix it and press Apply (or Install) to retry.", log
                    raise gr.Error(f"{event.message}. See the install log.")
                yield f"✅ {event.message}", log
    except InstallRefused as e:
        raise gr.Error(str(e)) from e


def apply_steps(
    ctx: AppContext,
    session: ChatSession,
    personality_id: str | None,
    before_switch: Callable[[], object] | None = None,
) -> Iterator[tuple[str, str]]:
    """AppContext.select_personality as (status, install log) for the page."""
    personality = _personality(ctx, personality_id)
    log = ""
    steps = ctx.select_personality(session, personality.id, before_switch)
    for status, log in install_status(steps, personality.name):
        yield status, log
    yield f"Now talking with **{personality.name}**.", log


def export_dir() -> Path:
    """A fresh folder for one export, under the system temp dir (Gradio serves files from there);
    exports older than an hour are removed."""
    base = Path(tempfile.gettempdir()) / "pwebui-exports"
    base.mkdir(exist_ok=True)
    now = time.time()
    for old in base.iterdir():
        try:
            if now - old.stat().st_mtime > EXPORT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue
    return Path(tempfile.mkdtemp(dir=base))


def setting_component(field: SettingField, value: Any) -> gr.components.Component:
    common = {"label": field.title, "info": field.help or None, "value": value, "interactive": True}
    if field.type == "bool":
        return gr.Checkbox(**common)
    if field.type == "choice":
        return gr.Dropdown(choices=list(field.options), **common)
    if field.type in ("int", "float"):
        step = 1 if field.type == "int" else None
        if field.min is not None and field.max is not None:
            return gr.Slider(minimum=field.min, maximum=field.max, step=step or (field.max - field.min) / 100, **common)
        return gr.Number(minimum=field.min, maximum=field.max, precision=0 if step else None, **common)
    return gr.Textbox(lines=4 if field.type == "text" else 1, max_lines=20 if field.type == "text" else 1, **common)


def save_settings(ctx: AppContext, personality_id: str | None, values: dict[str, Any]) -> str:
    personality = _personality(ctx, personality_id)
    try:
        personality.save_local_settings(values)
    except InvalidSetting as e:
        raise gr.Error(f"Not saved: {e}") from e
    return f"✅ Saved the settings of **{personality.name}** (config_local.yaml)."


# -- layout and wiring --------------------------------------------------------------------------------
def build(ctx: AppContext, state: gr.State) -> ZooTab:
    zoo = ctx.zoo
    with gr.Row():
        search = gr.Textbox(
            label="Search", placeholder="Search by name or description (e.g. “coder”, “écrivain”)…", scale=3
        )
        rescan = gr.Button("Rescan", size="sm", scale=0, min_width=90)
    search_info = gr.Markdown()
    with gr.Row():
        language = gr.Dropdown(zoo.languages(), label="Language")
        # allow_custom_value: API clients never run the page's load event that fills these
        # choices, so they pass any language/category/id; every action validates it.
        category = gr.Dropdown([], label="Category", allow_custom_value=True)
        personality = gr.Dropdown([], label="Personality", allow_custom_value=True)
    with gr.Row():
        logo = gr.Image(label="Logo", type="pil", height=200, width=200, interactive=False, scale=1)
        card = gr.Markdown(scale=3)
    with gr.Row():
        apply = gr.Button("Apply", variant="primary", scale=2)
        trust = gr.Button("Trust (allow its scripts to run)", variant="stop", visible=False)
        revoke = gr.Button("Revoke trust", visible=False)
        install = gr.Button("Install", visible=False)
        uninstall = gr.Button("Uninstall", visible=False)
    status = gr.Markdown()
    install_log = gr.Textbox(label="Install log", lines=6, max_lines=20, interactive=False, autoscroll=True)

    @gr.render(inputs=personality)
    def settings_form(pid: str | None) -> None:
        entry = zoo.entry(pid or "")
        if entry is None or entry.personality is None or not entry.personality.config.settings_template:
            return
        p = entry.personality
        template = p.config.settings_template
        values, problems = p.local_settings()
        with gr.Accordion(f"Settings of {p.name}", open=True):
            for problem in problems:
                gr.Markdown(f"⚠️ {problem}")
            fields = [setting_component(f, values[f.name]) for f in template.fields]
            save = gr.Button("Save settings", variant="secondary")
            saved = gr.Markdown()
        names = [f.name for f in template.fields]
        save.click(
            lambda *vals: save_settings(ctx, pid, dict(zip(names, vals, strict=True))),
            fields,
            saved,
            api_visibility="private",
        )

    with gr.Accordion("Export", open=False):
        with gr.Row():
            export_zip = gr.Button("Export as zip")
            export_json = gr.Button("Export as character card (JSON)")
            export_png = gr.Button("Export as character card (PNG)")
        exported = gr.File(label="Exported file", interactive=False)
    with gr.Accordion("Import", open=False):
        gr.Markdown(
            "A SillyTavern / TavernAI character card (PNG or JSON, V1/V2/V3), a text-generation-webui "
            "character (YAML, with its PNG avatar), a zip of a personality folder, or a config.yaml. "
            "Imported scripts stay off until you trust the personality."
        )
        upload = gr.File(
            label="Files to import", file_count="multiple", file_types=[".png", ".json", ".yaml", ".yml", ".zip"]
        )
        with gr.Row():
            import_language = gr.Dropdown(
                zoo.languages(), value="english", label="Language for characters", allow_custom_value=True
            )
            import_category = gr.Textbox(value="characters", label="Category for characters")
            import_replace = gr.Checkbox(label="Replace a personality of the same name in my zoo")
        import_button = gr.Button("Import", variant="primary")
        import_status = gr.Markdown()
    with gr.Accordion(f"Broken personalities ({len(zoo.errors())})", open=False) as broken_box:
        broken = gr.Markdown(zoo_view.broken_markdown(zoo.errors()))

    tab = ZooTab(
        search, search_info, language, category, personality, logo, card, apply, trust, revoke, install,
        uninstall, install_log, status, broken,
    )  # fmt: skip
    card_out = tab.card_outputs

    def on_personality(pid: str | None, session: ChatSession) -> list[Any]:
        return card_values(ctx, session, pid)

    def on_category(lang: str | None, cat: str | None, session: ChatSession) -> list[Any]:
        entries = zoo.in_category(lang, cat) if lang and cat else []
        pid = entries[0].id if entries else None
        return [gr.update(choices=zoo_view.choices(entries), value=pid), *card_values(ctx, session, pid)]

    def on_language(lang: str | None, session: ChatSession) -> list[Any]:
        cats = zoo.categories(lang) if lang else []
        cat = cats[0] if cats else None
        return [gr.update(choices=cats, value=cat), *on_category(lang, cat, session)]

    def on_search(query: str, lang: str | None, cat: str | None, session: ChatSession) -> list[Any]:
        if not query or not query.strip():
            return ["", *on_category(lang, cat, session)]
        hits = zoo.search(query)
        pid = hits[0].id if hits else None
        return [
            zoo_view.search_summary(query, len(hits)),
            gr.update(choices=zoo_view.choices(hits, with_place=True), value=pid),
            *card_values(ctx, session, pid),
        ]

    def refreshed(pid: str | None, session: ChatSession, message: str) -> list[Any]:
        errors = zoo.errors()
        return [
            message,
            *position_values(ctx, session, pid),
            zoo_view.broken_markdown(errors),
            gr.Accordion(label=f"Broken personalities ({len(errors)})"),
        ]

    refresh_out = [status, *tab.browse_outputs, broken, broken_box]

    def on_rescan(pid: str | None, session: ChatSession) -> list[Any]:
        zoo.rescan()
        return refreshed(pid, session, f"Rescanned: {len(zoo.entries)} personalities, {len(zoo.errors())} broken.")

    def on_trust(pid: str | None, session: ChatSession) -> list[Any]:
        if not ctx.allow_trust:
            raise gr.Error(TRUST_DISABLED)
        personality = _personality(ctx, pid)
        personality.trust()
        return [f"**{personality.name}** is trusted: its scripts may run.", *card_values(ctx, session, pid)]

    def on_revoke(pid: str | None, session: ChatSession) -> list[Any]:
        personality = _personality(ctx, pid)
        personality.revoke_trust()
        return [
            f"**{personality.name}** is no longer trusted: its scripts will not run.",
            *card_values(ctx, session, pid),
        ]

    def on_install(pid: str | None, session: ChatSession) -> Iterator[list[Any]]:
        personality = _personality(ctx, pid)
        skip = [gr.skip()] * (len(card_out) - 1)
        for message, log in install_status(ctx.installer.install(personality), personality.name):
            yield [message, *skip, log]
        yield [message, *card_values(ctx, session, pid)]

    def on_uninstall(pid: str | None, session: ChatSession) -> list[Any]:
        try:
            message = ctx.installer.uninstall(_personality(ctx, pid))
        except InstallRefused as e:
            raise gr.Error(str(e)) from e
        return [message, *card_values(ctx, session, pid)]

    def on_export(kind: str):
        def run(pid: str | None) -> str:
            personality = _personality(ctx, pid)
            maker = {"zip": export.export_zip, "json": export.export_card_json, "png": export.export_card_png}[kind]
            return str(maker(personality, export_dir()))

        return run

    def on_import(
        files: list[str] | None, lang: str | None, cat: str | None, replace: bool, session: ChatSession
    ) -> list[Any]:
        if not files:
            raise gr.Error("Choose one or more files to import first.")
        options = ImportOptions(
            language=(lang or "").strip() or None, category=(cat or "").strip() or None, replace=bool(replace)
        )
        user_zoo = ctx.paths.user_zoo
        outcomes = import_files([Path(f) for f in files], user_zoo, options, reserved_ids=zoo.ids_outside(user_zoo))
        zoo.rescan()
        done = [o for o in outcomes if not isinstance(o, ImportRejected)]
        if not done:
            raise gr.Error("Nothing imported. " + " ".join(str(o) for o in outcomes))
        summary = "\n\n".join(f"❌ {o}" if isinstance(o, ImportRejected) else o.summary() for o in outcomes)
        return [*refreshed(done[-1].personality_id, session, summary), summary]

    language.input(on_language, [language, state], [category, personality, *card_out], api_name="zoo_language")
    category.input(on_category, [language, category, state], [personality, *card_out], api_name="zoo_category")
    personality.input(on_personality, [personality, state], card_out, api_name="zoo_card")
    # .change, not .input: pasted or auto-filled text searches too (nothing else sets this box).
    search.change(
        on_search, [search, language, category, state], [search_info, personality, *card_out],
        api_name="zoo_search", trigger_mode="always_last",
    )  # fmt: skip
    rescan.click(on_rescan, [personality, state], refresh_out, api_name="zoo_rescan")
    trust.click(on_trust, [personality, state], [status, *card_out], api_name="trust_personality")
    revoke.click(on_revoke, [personality, state], [status, *card_out], api_name="revoke_trust")
    install.click(
        on_install,
        [personality, state],
        [status, *card_out],
        api_name="install_personality",
        concurrency_limit=ACTION_CONCURRENCY,
    )
    uninstall.click(on_uninstall, [personality, state], [status, *card_out], api_name="uninstall_personality")
    export_zip.click(on_export("zip"), personality, exported, api_name="export_zip")
    export_json.click(on_export("json"), personality, exported, api_name="export_card_json")
    export_png.click(on_export("png"), personality, exported, api_name="export_card_png")
    import_button.click(
        on_import,
        [upload, import_language, import_category, import_replace, state],
        [*refresh_out, import_status],
        api_name="import_personality",
    )

    def personality_settings(personality_id: str) -> dict[str, Any]:
        """The personality's own settings: its typed fields and their current values."""
        p = _personality(ctx, personality_id)
        values, problems = p.local_settings()
        fields = [
            {"name": f.name, "type": f.type, "default": f.default, "min": f.min, "max": f.max,
             "options": list(f.options), "help": f.help, "label": f.title}
            for f in p.config.settings_template.fields
        ]  # fmt: skip
        return {"fields": fields, "values": values, "problems": problems}

    def save_personality_settings(personality_id: str, values: dict[str, Any]) -> str:
        """Validate and save the personality's own settings (config_local.yaml)."""
        return save_settings(ctx, personality_id, values)

    gr.api(personality_settings, api_name="personality_settings")
    gr.api(save_personality_settings, api_name="save_personality_settings")
    return tab
