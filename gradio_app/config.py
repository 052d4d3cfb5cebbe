"""AppSettings and paths: the one place that knows where things live and what the defaults are."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from gradio_app.fileio import atomic_write_yaml
from gradio_app.generation.params import GenerationParams, InvalidParams
from gradio_app.generation.state_cache import DEFAULT_STATE_CACHE_BYTES
from gradio_app.personalities.prompt import PROMPT_FORMATS, PromptFormat

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILTIN_ZOO = PROJECT_ROOT / "personalities"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_PERSONALITY = "english/generic/lollms"


@dataclass(frozen=True)
class DataPaths:
    """Everything the app writes lives under one data folder (git-ignored by default)."""

    root: Path

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.yaml"

    @property
    def discussions_db(self) -> Path:
        return self.root / "discussions.sqlite3"

    @property
    def browser_secret(self) -> Path:
        """The key that encrypts each browser's anonymous id in its localStorage."""
        return self.root / "browser-state.key"

    @property
    def user_zoo(self) -> Path:
        return self.root / "personalities"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def models(self) -> Path:
        return self.root / "models"

    def ensure(self) -> DataPaths:
        for folder in (self.root, self.user_zoo, self.outputs, self.models):
            folder.mkdir(parents=True, exist_ok=True)
        return self


@dataclass
class AppSettings:
    """Settings that survive a restart once saved. model_path None = the embedded default model."""

    model_path: str | None = None
    n_ctx: int = 4096
    n_threads: int | None = None  # None = all cores
    # Saved per-discussion model states (so discussions taking turns keep their evaluated history).
    state_cache_mb: int = DEFAULT_STATE_CACHE_BYTES // 2**20
    prompt_format: PromptFormat = "auto"
    default_personality: str = DEFAULT_PERSONALITY
    override_personality_params: bool = False
    user_params: GenerationParams = field(default_factory=GenerationParams)

    @classmethod
    def load(cls, path: Path) -> tuple[AppSettings, list[str]]:
        """Read the settings file. Bad values are reported and replaced by defaults, never fatal."""
        problems: list[str] = []
        if not path.exists():
            return cls(), problems
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            return cls(), [f"{path}: unreadable ({e}); using defaults"]
        if not isinstance(data, dict):
            return cls(), [f"{path}: expected a mapping; using defaults"]
        settings = cls()
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            try:
                settings = replace(settings, **{f.name: _check(f.name, value)})
            except (TypeError, ValueError) as e:
                problems.append(f"{path}: '{f.name}': {e}; using the default")
        for problem in problems:
            log.warning(problem)
        return settings, problems

    def save(self, path: Path) -> None:
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data["user_params"] = self.user_params.to_dict()
        atomic_write_yaml(path, data)


def _check(name: str, value: Any) -> Any:
    if name == "user_params":
        if not isinstance(value, dict):
            raise ValueError("expected a mapping of sampling parameters")
        try:
            return GenerationParams.from_dict(value)
        except InvalidParams as e:
            raise ValueError(str(e)) from e
    if name == "prompt_format":
        if value not in PROMPT_FORMATS:
            raise ValueError(f"must be one of {', '.join(PROMPT_FORMATS)}")
        return value
    if name == "n_ctx":
        if isinstance(value, bool) or not isinstance(value, int) or not 256 <= value <= 1_048_576:
            raise ValueError("must be a whole number between 256 and 1048576")
        return value
    if name == "n_threads":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError("must be a positive whole number, or empty for all cores")
        return value
    if name == "state_cache_mb":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_048_576:
            raise ValueError("must be a whole number of MiB between 0 (no cache) and 1048576")
        return value
    if name == "override_personality_params":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if value is not None and not isinstance(value, str):
        raise ValueError("must be text")
    return value
