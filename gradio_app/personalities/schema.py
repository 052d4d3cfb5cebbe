"""PersonalityConfig: the validated content of a personality's config.yaml.

Compatible with the 2023 lollms / PyAIPersonality format: the same keys (including the original
misspelling `include_welcome_message_in_disucssion`), and keys we do not know are kept in `extra`
and written back, never dropped.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from gradio_app.generation.params import PARAM_RANGES, PERSONALITY_KEYS, GenerationParams
from gradio_app.personalities.local_settings import InvalidTemplate, SettingsTemplate

# config.yaml files in the wild are a few KB; anything far larger is a mistake or an attack.
MAX_CONFIG_BYTES = 1_000_000
MAX_TEXT_CHARS = 200_000

# libyaml's safe loader when present (about 10x faster on a big zoo), the pure-Python one otherwise.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MISSPELLED = {"include_welcome_message_in_disucssion": "include_welcome_message_in_discussion"}


class PersonalityError(ValueError):
    """A personality cannot be loaded. Names the file and, when known, the field."""

    def __init__(self, path: Path | str, message: str, field: str | None = None) -> None:
        self.path, self.field, self.reason = str(path), field, message
        where = f"{self.path}" + (f", field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")


_TEXT_FIELDS = frozenset(
    {
        "name",
        "author",
        "version",
        "language",
        "category",
        "personality_description",
        "personality_conditioning",
        "welcome_message",
        "disclaimer",
        "user_name",
        "user_message_prefix",
        "link_text",
        "ai_message_prefix",
    }
)


@dataclass
class PersonalityConfig:
    name: str
    author: str = ""
    version: str = "1.0.0"
    language: str = "english"
    category: str = "generic"
    personality_description: str = ""
    personality_conditioning: str = ""
    welcome_message: str = ""
    disclaimer: str = ""
    user_name: str = "user"
    user_message_prefix: str = "### User:\n"
    link_text: str = "\n"
    ai_message_prefix: str = "### Assistant:\n"
    anti_prompts: list[str] = field(default_factory=list)
    dependencies: list[Any] = field(default_factory=list)
    include_welcome_message_in_discussion: bool = False
    processor_cfg: dict[str, Any] = field(default_factory=dict)
    # model_* sampling defaults; None = not set by the personality (the app default applies).
    model_temperature: float | None = None
    model_n_predicts: int | None = None
    model_top_k: int | None = None
    model_top_p: float | None = None
    model_repeat_penalty: float | None = None
    model_repeat_last_n: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, source: Path | str = "<config>") -> PersonalityConfig:
        if not isinstance(data, dict):
            raise PersonalityError(source, f"expected a mapping of keys to values, got {type(data).__name__}")
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for raw_key, value in data.items():
            key = _MISSPELLED.get(str(raw_key), str(raw_key))
            if key in known:
                values[key] = _check_field(key, value, source)
            else:
                extra[str(raw_key)] = value
        if not values.get("name", "").strip():
            raise PersonalityError(source, "a personality needs a non-empty name", "name")
        return cls(**values, extra=extra)

    @classmethod
    def load(cls, path: Path) -> PersonalityConfig:
        try:
            size = path.stat().st_size
        except OSError as e:
            raise PersonalityError(path, f"cannot read: {e.strerror}") from e
        if size > MAX_CONFIG_BYTES:
            raise PersonalityError(path, f"file is {size} bytes; the limit is {MAX_CONFIG_BYTES}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise PersonalityError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from e
        except OSError as e:
            raise PersonalityError(path, f"cannot read: {e.strerror}") from e
        try:
            data = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader, C-accelerated
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise PersonalityError(path, f"invalid YAML{where}: {problem}") from e
        _refuse_expansion_bombs(data, path)
        return cls.from_dict(data, path)

    # -- saving -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name.startswith("model_") and value is None:
                continue
            out[f.name] = value
        out.update(self.extra)
        return out

    # -- derived values -----------------------------------------------------------------------
    def generation_params(self, base: GenerationParams | None = None) -> GenerationParams:
        """This personality's sampling defaults (keys it does not set keep `base`)."""
        return GenerationParams.from_personality(self.to_dict(), base)

    def stop_strings(self) -> list[str]:
        """Anti-prompts; without any, the stripped user and AI prefixes guard the turn boundary."""
        if self.anti_prompts:
            return [a for a in self.anti_prompts if a.strip()]
        return [p.strip() for p in (self.user_message_prefix, self.ai_message_prefix) if p.strip()]

    @property
    def has_custom_workflow(self) -> bool:
        return bool(self.processor_cfg.get("custom_workflow"))

    @property
    def settings_template(self) -> SettingsTemplate:
        """The typed fields of this personality's own settings (validated when the file loaded)."""
        return SettingsTemplate.parse(self.processor_cfg.get("settings"))


def fill_placeholders(text: str, now: _dt.datetime | None = None) -> str:
    """Replace {{date}}, {{time}} and {{date_time}} (lollms conditioning placeholders)."""
    if "{{" not in text:
        return text
    now = now or _dt.datetime.now()
    return (
        text.replace("{{date_time}}", now.strftime("%Y-%m-%d %H:%M:%S"))
        .replace("{{date}}", now.strftime("%Y-%m-%d"))
        .replace("{{time}}", now.strftime("%H:%M:%S"))
    )


_PARAM_FOR_KEY = {key: name for name, key in PERSONALITY_KEYS.items()}

# YAML aliases let a few lines describe billions of values ("billion laughs"): harmless while the
# parsed data shares them, explosive as soon as anything copies or serializes it (JSON export).
MAX_EXPANDED_VALUES = 100_000


def _refuse_expansion_bombs(data: Any, source: Path | str) -> None:
    """Count values as if aliases were expanded; refuse the file past MAX_EXPANDED_VALUES."""
    budget = MAX_EXPANDED_VALUES
    stack = [data]
    while stack:
        value = stack.pop()
        budget -= 1
        if budget < 0:
            raise PersonalityError(
                source, f"the file expands to more than {MAX_EXPANDED_VALUES} values (YAML alias bomb?)"
            )
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


# Public name for the importers, which parse other YAML formats with the same guard.
refuse_expansion_bombs = _refuse_expansion_bombs


def _check_field(key: str, value: Any, source: Path | str) -> Any:
    if key in _TEXT_FIELDS:
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise PersonalityError(source, f"expected text, got {type(value).__name__}", key)
        text = str(value)  # e.g. `version: 1.0` is read by YAML as a float
        if len(text) > MAX_TEXT_CHARS:
            raise PersonalityError(source, f"text of {len(text)} characters; the limit is {MAX_TEXT_CHARS}", key)
        return text
    if key == "anti_prompts":
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            raise PersonalityError(source, "expected a list of texts", key)
        return [str(v) for v in value]
    if key == "dependencies":
        if value is None:
            return []
        if not isinstance(value, list):
            raise PersonalityError(source, "expected a list", key)
        return value
    if key == "processor_cfg":
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise PersonalityError(source, "expected a mapping", key)
        try:
            SettingsTemplate.parse(value.get("settings"))
        except InvalidTemplate as e:
            raise PersonalityError(source, str(e), key) from e
        return value
    if key == "include_welcome_message_in_discussion":
        if not isinstance(value, bool):
            raise PersonalityError(source, f"expected true or false, got {value!r}", key)
        return value
    if key in _PARAM_FOR_KEY:
        if value is None:
            return None
        low, high, kind = PARAM_RANGES[_PARAM_FOR_KEY[key]]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PersonalityError(source, f"expected a number, got {value!r}", key)
        if kind is int and float(value) != int(value):
            raise PersonalityError(source, f"expected a whole number, got {value!r}", key)
        if not low <= value <= high:
            raise PersonalityError(source, f"{value!r} is outside {low}..{high}", key)
        return kind(value)
    return value
