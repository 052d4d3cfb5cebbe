"""ArtSettings: the art personality's config_local.yaml, validated (a bad value names its key)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

SAMPLERS = ("default", "euler", "euler_a", "dpm++_2m", "dpm++_2m_karras", "ddim", "pndm", "heun", "unipc")
DEVICES = ("auto", "cpu", "cuda")


class InvalidArtSettings(ValueError):
    """A config_local.yaml value is wrong; the message names the key."""


@dataclass(frozen=True)
class ArtSettings:
    model_name: str = "auto"  # the first model in the SD models folder
    imagine: bool = True  # let the model write the Stable Diffusion prompt (False: use the user's text)
    max_generation_prompt_size: int = 77
    num_images: int = 1
    seed: int = -1  # -1 = random; any other value gives the same images every time
    sampler: str = "default"
    steps: int = 20
    guidance_scale: float = 7.5
    width: int = 512
    height: int = 512
    negative_prompt: str = "blurry, low quality, deformed, watermark, text"
    device: str = "auto"
    allow_ckpt: bool = False  # .ckpt files are pickles that can run code: loaded only when True

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ArtSettings:
        known = {f.name: f for f in fields(cls)}
        clean: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                continue  # the original zoo's keys (ddim_steps, H, W...) are mapped below
            clean[key] = value
        for legacy, key in (("ddim_steps", "steps"), ("H", "height"), ("W", "width"), ("scale", "guidance_scale")):
            if legacy in values and key not in values:
                clean[key] = values[legacy]
        settings = cls(**clean)
        settings.validate()
        return settings

    def validate(self) -> None:
        def check(ok: bool, key: str, message: str) -> None:
            if not ok:
                raise InvalidArtSettings(f"config_local.yaml '{key}': {message} (got {getattr(self, key)!r})")

        def whole(key: str, low: int, high: int) -> None:
            value = getattr(self, key)
            ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
            check(ok, key, f"a whole number from {low} to {high}")

        check(isinstance(self.model_name, str) and bool(self.model_name.strip()), "model_name", "a model name")
        check(isinstance(self.imagine, bool), "imagine", "true or false")
        check(isinstance(self.allow_ckpt, bool), "allow_ckpt", "true or false")
        whole("max_generation_prompt_size", 8, 1024)
        whole("num_images", 1, 8)
        whole("seed", -1, 2**32 - 1)
        whole("steps", 1, 150)
        whole("width", 64, 2048)
        whole("height", 64, 2048)
        check(self.width % 8 == 0 and self.height % 8 == 0, "width", "width and height must be multiples of 8")
        scale = self.guidance_scale
        check(
            isinstance(scale, (int, float)) and not isinstance(scale, bool) and 0 <= scale <= 30,
            "guidance_scale",
            "a number from 0 to 30",
        )
        check(self.sampler in SAMPLERS, "sampler", f"one of {', '.join(SAMPLERS)}")
        check(self.device in DEVICES, "device", f"one of {', '.join(DEVICES)}")
        check(isinstance(self.negative_prompt, str), "negative_prompt", "text")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
