"""Sampling parameters: the one place that owns their defaults, ranges and merge rule."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


class InvalidParams(ValueError):
    """A sampling parameter is out of range or of the wrong type (the message names it)."""


# name -> (minimum, maximum, type). One table drives validation, UI slider ranges and docs.
PARAM_RANGES: dict[str, tuple[float, float, type]] = {
    "temperature": (0.0, 2.0, float),
    "top_k": (0, 200, int),
    "top_p": (0.0, 1.0, float),
    "repeat_penalty": (0.5, 2.0, float),
    "repeat_last_n": (0, 4096, int),
    "n_predict": (1, 32768, int),
    "seed": (-1, 2**31 - 1, int),
}

# Personality config keys (lollms format) for each parameter.
PERSONALITY_KEYS: dict[str, str] = {
    "temperature": "model_temperature",
    "top_k": "model_top_k",
    "top_p": "model_top_p",
    "repeat_penalty": "model_repeat_penalty",
    "repeat_last_n": "model_repeat_last_n",
    "n_predict": "model_n_predicts",
}


@dataclass(frozen=True)
class GenerationParams:
    """How the sampler picks each next token, and when generation stops by length.

    seed = -1 means "random": `resolved_seed()` draws one so it can be recorded.
    top_k = 0 disables top-k; temperature = 0 means greedy decoding.
    """

    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.9
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    n_predict: int = 512
    seed: int = -1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            low, high, kind = PARAM_RANGES[f.name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidParams(f"{f.name} must be a number, got {value!r}")
            if kind is int and float(value) != int(value):
                raise InvalidParams(f"{f.name} must be a whole number, got {value!r}")
            if not low <= value <= high:
                raise InvalidParams(f"{f.name} must be between {low} and {high}, got {value!r}")
            object.__setattr__(self, f.name, kind(value))

    @classmethod
    def from_dict(cls, values: dict[str, Any], base: GenerationParams | None = None) -> GenerationParams:
        """Build from a dict of known names; missing names come from `base` (or the defaults)."""
        known = {k: v for k, v in values.items() if k in PARAM_RANGES and v is not None}
        return replace(base or cls(), **known)

    @classmethod
    def from_personality(cls, config: dict[str, Any], base: GenerationParams | None = None) -> GenerationParams:
        """Read the `model_*` keys of a personality config; keys it lacks keep `base` values."""
        values = {name: config.get(key) for name, key in PERSONALITY_KEYS.items()}
        return cls.from_dict(values, base)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resolved_seed(self) -> int:
        """The seed to actually use: the fixed one, or a fresh random one for -1."""
        return self.seed if self.seed >= 0 else secrets.randbelow(2**31 - 1)


def merge(personality: GenerationParams, user: GenerationParams, override: bool) -> GenerationParams:
    """The parameters in force: the personality's own, unless the user chose to override them."""
    return user if override else personality
