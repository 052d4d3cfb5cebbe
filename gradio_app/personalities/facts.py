"""What the zoo card says about a personality, and which actions it allows: decided here, once,
so the UI only displays it (and tests can check it without Gradio)."""

from __future__ import annotations

from dataclasses import dataclass

from gradio_app.personalities.importers.cards import CARD_EXTENSION
from gradio_app.personalities.importers.tgw import TGW_EXTENSION
from gradio_app.personalities.install import REQUIREMENTS_FILE, InstallState, install_state, read_marker
from gradio_app.personalities.zoo import ZooEntry

_IMPORT_SOURCES = {
    CARD_EXTENSION: "a SillyTavern / TavernAI character card",
    TGW_EXTENSION: "a text-generation-webui character",
}


@dataclass(frozen=True)
class PersonalityFacts:
    id: str
    name: str
    language: str
    category: str
    builtin: bool
    ok: bool
    error: str | None = None
    version: str = ""
    author: str = ""
    description: str = ""
    disclaimer: str = ""
    custom_workflow: bool = False
    code: tuple[str, ...] = ()  # what would run on this machine: "processor script", ...
    trusted: bool = True
    install: InstallState = "not_needed"
    installed_at: str | None = None
    imported_from: str | None = None
    has_settings: bool = False

    @property
    def runs_code(self) -> bool:
        return bool(self.code)

    @property
    def can_apply(self) -> bool:
        """Selectable now: loads, and any install it needs may run (it is trusted)."""
        return self.ok and (self.install != "needed" or self.trusted)

    @property
    def can_trust(self) -> bool:
        return self.ok and self.runs_code and not self.trusted

    @property
    def can_revoke_trust(self) -> bool:
        return self.ok and self.runs_code and self.trusted and not self.builtin

    @property
    def can_install(self) -> bool:
        return self.ok and self.install != "not_needed" and self.trusted

    @property
    def can_uninstall(self) -> bool:
        return self.ok and self.install == "installed"


def facts_of(entry: ZooEntry) -> PersonalityFacts:
    base = {"id": entry.id, "name": entry.name, "language": entry.language, "category": entry.category}
    p = entry.personality
    if p is None:
        return PersonalityFacts(**base, builtin=entry.builtin, ok=False, error=entry.error)
    c = p.config
    scripts = p.folder / "scripts"
    code = tuple(
        label
        for label, present in (
            ("processor script", (scripts / "processor.py").is_file()),
            ("install script", (scripts / "install.py").is_file()),
            (f"{REQUIREMENTS_FILE} to pip-install", (p.folder / REQUIREMENTS_FILE).is_file()),
        )
        if present
    )
    state = install_state(p)
    installed_at = read_marker(p).get("installed_at") if state == "installed" else None
    extensions = c.extra.get("extensions")
    imported = next((v for k, v in _IMPORT_SOURCES.items() if isinstance(extensions, dict) and k in extensions), None)
    return PersonalityFacts(
        **base,
        builtin=p.builtin,
        ok=True,
        version=c.version,
        author=c.author,
        description=c.personality_description.strip(),
        disclaimer=c.disclaimer.strip(),
        custom_workflow=p.has_custom_workflow,
        code=code,
        trusted=p.trusted,
        install=state,
        installed_at=str(installed_at) if installed_at else None,
        imported_from=imported,
        has_settings=bool(c.settings_template),
    )
