"""A personality's own settings: the typed template it declares, and the user's config_local.yaml.

The template is static data in config.yaml (`processor_cfg.settings`: a list of fields), not code,
so the zoo can render a form for a personality whose script has not been trusted or installed yet.

    processor_cfg:
      settings:
        - {name: depth, type: int, default: 2, min: 1, max: 5, help: "levels of the tree"}
        - {name: sampler, type: choice, default: euler, options: [euler, ddim]}

Types: int, float, bool, str (one line), text (several lines), choice (one of `options`).
Values in config_local.yaml that the template does not declare are kept as they are (the 2023 zoo
has such keys); declared ones are checked, and a bad saved value falls back to the default with a
problem reported, so a hand-edited file can never break the personality.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FIELD_TYPES = ("int", "float", "bool", "str", "text", "choice")
MAX_SETTING_CHARS = 20_000


class InvalidSetting(ValueError):
    """A value does not fit its field; the message names the field."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"'{name}': {message}")


class InvalidTemplate(ValueError):
    """The settings template itself is malformed; the message names the field (or its index)."""


@dataclass(frozen=True)
class SettingField:
    name: str
    type: str
    default: Any
    min: float | None = None
    max: float | None = None
    options: tuple[Any, ...] = ()
    help: str = ""
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def coerce(self, value: Any) -> Any:
        """The value as this field's type, or InvalidSetting saying what was expected."""
        kind = self.type
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise InvalidSetting(self.name, f"expected true or false, got {value!r}")
        if kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                if isinstance(value, str):
                    try:
                        value = float(value.strip())
                    except ValueError:
                        raise InvalidSetting(self.name, f"expected a number, got {value!r}") from None
                else:
                    raise InvalidSetting(self.name, f"expected a number, got {value!r}")
            if kind == "int":
                if float(value) != int(value):
                    raise InvalidSetting(self.name, f"expected a whole number, got {value!r}")
                value = int(value)
            else:
                value = float(value)
            if self.min is not None and value < self.min:
                raise InvalidSetting(self.name, f"{value} is below the minimum {self.min:g}")
            if self.max is not None and value > self.max:
                raise InvalidSetting(self.name, f"{value} is above the maximum {self.max:g}")
            return value
        if kind == "choice":
            if value not in self.options:
                raise InvalidSetting(self.name, f"must be one of {', '.join(map(str, self.options))}; got {value!r}")
            return value
        # str / text
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidSetting(self.name, f"expected text, got {type(value).__name__}")
        text = str(value)
        if len(text) > MAX_SETTING_CHARS:
            raise InvalidSetting(self.name, f"{len(text)} characters; the limit is {MAX_SETTING_CHARS}")
        if kind == "str" and "\n" in text:
            raise InvalidSetting(self.name, "expected a single line")
        return text


def _parse_field(raw: Any, index: int) -> SettingField:
    where = f"processor_cfg.settings[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidTemplate(f"{where}: expected a mapping with name, type and default")
    name = raw.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise InvalidTemplate(f"{where}: 'name' must be an identifier, got {name!r}")
    kind = raw.get("type", "str")
    if kind not in FIELD_TYPES:
        raise InvalidTemplate(f"{where} ({name}): 'type' must be one of {', '.join(FIELD_TYPES)}, got {kind!r}")
    bounds: dict[str, float | None] = {}
    for key in ("min", "max"):
        bound = raw.get(key)
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
            raise InvalidTemplate(f"{where} ({name}): '{key}' must be a number")
        bounds[key] = bound
    options = raw.get("options") or ()
    if not isinstance(options, (list, tuple)):
        raise InvalidTemplate(f"{where} ({name}): 'options' must be a list")
    if kind == "choice" and not options:
        raise InvalidTemplate(f"{where} ({name}): a choice needs 'options'")
    for key in ("help", "label"):
        if not isinstance(raw.get(key, ""), str):
            raise InvalidTemplate(f"{where} ({name}): '{key}' must be text")
    field = SettingField(
        name=name,
        type=kind,
        default=None,
        min=bounds["min"],
        max=bounds["max"],
        options=tuple(options),
        help=raw.get("help", ""),
        label=raw.get("label", ""),
    )
    default = raw.get("default", _EMPTY[kind] if kind != "choice" else options[0])
    try:
        default = field.coerce(default)
    except InvalidSetting as e:
        raise InvalidTemplate(f"{where}: default {e}") from e
    return SettingField(**{**field.__dict__, "default": default})


_EMPTY: dict[str, Any] = {"int": 0, "float": 0.0, "bool": False, "str": "", "text": ""}


@dataclass(frozen=True)
class SettingsTemplate:
    fields: tuple[SettingField, ...] = ()

    @classmethod
    def parse(cls, raw: Any) -> SettingsTemplate:
        """From `processor_cfg.settings` (None or a list of field mappings)."""
        if raw is None:
            return cls()
        if not isinstance(raw, list):
            raise InvalidTemplate("processor_cfg.settings: expected a list of fields")
        parsed = tuple(_parse_field(item, i) for i, item in enumerate(raw))
        names = [f.name for f in parsed]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidTemplate(f"processor_cfg.settings: duplicate field names {', '.join(duplicates)}")
        return cls(parsed)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def field(self, name: str) -> SettingField | None:
        return next((f for f in self.fields if f.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields}

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Strict (for saving what a user entered): every declared value checked, the first bad one
        raises InvalidSetting. Undeclared keys are kept as they are."""
        out = {k: v for k, v in values.items() if self.field(str(k)) is None}
        for f in self.fields:
            out[f.name] = f.coerce(values[f.name]) if f.name in values else f.default
        return out

    def resolve(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Lenient (for running): a bad saved value is replaced by its default and reported."""
        out = {k: v for k, v in values.items() if self.field(str(k)) is None}
        problems: list[str] = []
        for f in self.fields:
            if f.name not in values:
                out[f.name] = f.default
                continue
            try:
                out[f.name] = f.coerce(values[f.name])
            except InvalidSetting as e:
                problems.append(f"config_local.yaml {e}; using the default {f.default!r}")
                out[f.name] = f.default
        return out, problems
