"""Personality: a folder on disk = config.yaml + local settings + assets + optional scripts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gradio_app.fileio import atomic_write_yaml
from gradio_app.personalities.schema import PersonalityConfig, PersonalityError

CONFIG_FILE = "config.yaml"
LOCAL_CONFIG_FILE = "config_local.yaml"
INSTALL_MARKER = ".install"
# Written when the user explicitly trusts a personality whose scripts came from elsewhere.
TRUST_MARKER = ".trusted"
LOGO_NAMES = ("logo.png", "logo.jpg", "logo.jpeg", "logo.webp", "logo.gif")


@dataclass
class Personality:
    """A loaded personality. `id` is "<language>/<category>/<folder name>" inside its zoo root."""

    id: str
    folder: Path
    config: PersonalityConfig
    # Personalities shipped with the app are trusted; scripts that arrived later (user zoo,
    # imports, add_personality) run only after the user trusts them (TRUST_MARKER).
    builtin: bool = False

    @classmethod
    def load(cls, folder: Path, personality_id: str | None = None, *, builtin: bool = False) -> Personality:
        config_path = folder / CONFIG_FILE
        if not config_path.is_file():
            raise PersonalityError(config_path, "missing config.yaml")
        config = PersonalityConfig.load(config_path)
        return cls(id=personality_id or folder.name, folder=folder, config=config, builtin=builtin)

    @property
    def has_scripts(self) -> bool:
        """Code that would run on this machine: a processor, an install script, or requirements
        to pip-install (installing a package runs its code too)."""
        scripts = self.folder / "scripts"
        return (
            (scripts / "processor.py").is_file()
            or (scripts / "install.py").is_file()
            or (self.folder / "requirements.txt").is_file()
        )

    @property
    def trusted(self) -> bool:
        """May its scripts run? Built-in ones may; others only once the user trusted them."""
        return self.builtin or not self.has_scripts or (self.folder / TRUST_MARKER).is_file()

    def trust(self) -> None:
        from gradio_app.fileio import atomic_write_text

        atomic_write_text(self.folder / TRUST_MARKER, "trusted by the user\n")

    def revoke_trust(self) -> None:
        (self.folder / TRUST_MARKER).unlink(missing_ok=True)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def logo_path(self) -> Path | None:
        assets = self.folder / "assets"
        for name in LOGO_NAMES:
            if (assets / name).is_file():
                return assets / name
        return None

    @property
    def processor_path(self) -> Path | None:
        path = self.folder / "scripts" / "processor.py"
        return path if path.is_file() else None

    @property
    def has_custom_workflow(self) -> bool:
        """True when a processor script replaces the default prompt-in/text-out workflow."""
        return self.processor_path is not None and self.config.processor_cfg.get("custom_workflow", True) is not False

    @property
    def needs_install(self) -> bool:
        """An install script or requirements exist and the .install marker does not."""
        has_steps = (self.folder / "scripts" / "install.py").is_file() or (self.folder / "requirements.txt").is_file()
        return has_steps and not (self.folder / INSTALL_MARKER).exists()

    def local_config(self) -> dict[str, Any]:
        """The user's settings for this personality (config_local.yaml); {} when absent or unreadable."""
        path = self.folder / LOCAL_CONFIG_FILE
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def save_local_config(self, values: dict[str, Any]) -> None:
        atomic_write_yaml(self.folder / LOCAL_CONFIG_FILE, values)

    def local_settings(self) -> tuple[dict[str, Any], list[str]]:
        """The settings a workflow runs with: template defaults overlaid with config_local.yaml.
        A bad saved value falls back to its default and is reported (never fatal)."""
        return self.config.settings_template.resolve(self.local_config())

    def save_local_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        """Validate `values` against the template (InvalidSetting names the bad field) and write
        config_local.yaml atomically, keeping keys the template does not declare."""
        merged = {**self.local_config(), **values}
        clean = self.config.settings_template.validate(merged)
        self.save_local_config(clean)
        return clean
