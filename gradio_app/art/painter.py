"""Painter: loads a Stable Diffusion pipeline once, keeps it, and paints with seeds and samplers.

torch and diffusers are imported on the first paint, never at app start. On a GPU the pipeline
runs in float16 on CUDA; on a CPU in float32.
"""

from __future__ import annotations

import copy
import inspect
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from gradio_app.art.models import SdModelMissing, SdModelRef, missing_message
from gradio_app.art.settings import ArtSettings

log = logging.getLogger(__name__)

# sampler -> (scheduler class, the options that make it this sampler). Everything else (betas,
# prediction type, timestep spacing...) comes from the model's own scheduler config.
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "dpm++_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "dpm++_2m_karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "ddim": ("DDIMScheduler", {}),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),
    "heun": ("HeunDiscreteScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
}
# Noise-schedule variants are a sampler's choice, not the model's: off unless the sampler sets one,
# so "dpm++_2m" on a model shipped with Karras sigmas is plain DPM++ 2M.
SIGMA_VARIANTS = ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas")


def build_scheduler(sampler: str, original_class: type, original_config: Mapping[str, Any]) -> Any:
    """A fresh scheduler for `sampler`, built from the model's original scheduler config only (never
    from the scheduler in use), so no setting of an earlier sampler carries over."""
    import diffusers

    if sampler == "default":
        return original_class.from_config(original_config)
    name, own = SCHEDULERS[sampler]
    cls = getattr(diffusers, name)
    accepted = inspect.signature(cls.__init__).parameters
    options = {flag: False for flag in SIGMA_VARIANTS if flag in accepted} | own
    return cls.from_config(original_config, **options)


class PaintingFailed(RuntimeError):
    """The model could not be loaded or could not paint; the message is for the user."""


class PaintingCancelled(RuntimeError):
    pass


@dataclass(frozen=True)
class Painted:
    image: Image.Image
    seed: int


def pick_device(wanted: str) -> str:
    import torch

    if wanted == "cuda" and not torch.cuda.is_available():
        raise PaintingFailed("device is set to cuda but no CUDA GPU is available; use auto or cpu")
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return wanted


class Painter:
    """Keeps one loaded pipeline (the last one used); one painting at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, str] | None = None
        self._pipe: Any = None
        self._original_scheduler: tuple[type, dict[str, Any]] | None = None  # as loaded, never changed
        self._sampler: str | None = None  # the sampler the kept pipeline's scheduler was built for
        self.loads = 0  # how many times a pipeline was loaded (a second image must not reload)

    @property
    def scheduler(self) -> Any:
        """The kept pipeline's scheduler (None before the first paint): what the next paint uses."""
        return None if self._pipe is None else self._pipe.scheduler

    def _load(self, ref: SdModelRef, device: str) -> Any:
        import torch
        from diffusers import DiffusionPipeline, StableDiffusionPipeline

        dtype = torch.float16 if device == "cuda" else torch.float32
        try:
            if ref.kind == "folder":
                pipe = DiffusionPipeline.from_pretrained(ref.location, dtype=dtype, local_files_only=True)
            elif ref.kind == "single_file":
                if ref.config_dir is None:
                    raise PaintingFailed(
                        f"{ref.name} is a single-file model; to load it offline put its diffusers config "
                        f"(model_index.json and the component configs) in "
                        f"{Path(ref.location).with_name(Path(ref.location).stem + '.config')}"
                    )
                pipe = StableDiffusionPipeline.from_single_file(
                    ref.location, config=ref.config_dir, dtype=dtype, local_files_only=True
                )
            else:
                pipe = DiffusionPipeline.from_pretrained(ref.location, dtype=dtype)
        except PaintingFailed:
            raise
        except Exception as e:
            if ref.kind == "hub":
                raise SdModelMissing(
                    f"Could not get '{ref.location}' from the Hugging Face Hub ({type(e).__name__}). "
                    f"Downloads need a network connection. {missing_message(ref.name, Path('shared/sd_models'))}"
                ) from e
            raise PaintingFailed(f"The Stable Diffusion model {ref.name} could not be loaded: {e}") from e
        pipe = pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        self.loads += 1
        return pipe

    def _pipeline(self, ref: SdModelRef, device: str) -> Any:
        key = (ref.location, device)
        if self._key != key:
            self._pipe, self._key = None, None  # free the old one before loading the next
            self._pipe = self._load(ref, device)
            self._key = key
            scheduler = self._pipe.scheduler
            self._original_scheduler = (type(scheduler), copy.deepcopy(dict(scheduler.config)))
            self._sampler = "default"
        return self._pipe

    def _set_sampler(self, pipe: Any, sampler: str) -> None:
        """Give the kept pipeline `sampler`'s scheduler, rebuilt from the original config on a change."""
        assert self._original_scheduler is not None
        if sampler != self._sampler:
            self._sampler = None  # if building fails, the next paint rebuilds
            pipe.scheduler = build_scheduler(sampler, *self._original_scheduler)
            self._sampler = sampler

    def paint(
        self,
        ref: SdModelRef,
        prompt: str,
        settings: ArtSettings,
        on_step: Callable[[int, int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Painted]:
        """Paint settings.num_images images. Image i uses seed + i (or fresh random seeds for -1).

        on_step(image_index, step, total_steps) reports progress; setting `cancel` stops after the
        current denoising step.
        """
        import torch

        with self._lock:
            device = pick_device(settings.device)
            pipe = self._pipeline(ref, device)
            self._set_sampler(pipe, settings.sampler)
            results: list[Painted] = []
            for index in range(settings.num_images):
                seed = settings.seed + index if settings.seed >= 0 else secrets.randbelow(2**32)
                generator = torch.Generator(device="cpu").manual_seed(seed)

                def callback(p: Any, step: int, _timestep: Any, kwargs: dict[str, Any], i: int = index) -> Any:
                    if on_step is not None:  # some samplers run more steps than asked (PLMS warm-up)
                        on_step(i, step + 1, getattr(p, "num_timesteps", settings.steps))
                    if cancel is not None and cancel.is_set():
                        p._interrupt = True  # diffusers' own way to stop the denoising loop
                    return kwargs

                output = pipe(
                    prompt=prompt,
                    negative_prompt=settings.negative_prompt or None,
                    num_inference_steps=settings.steps,
                    guidance_scale=settings.guidance_scale,
                    width=settings.width,
                    height=settings.height,
                    generator=generator,
                    callback_on_step_end=callback,
                )
                if cancel is not None and cancel.is_set():
                    raise PaintingCancelled("stopped")
                results.append(Painted(output.images[0], seed))
            return results


_shared: Painter | None = None
_shared_lock = threading.Lock()


def shared_painter() -> Painter:
    """The app's one Painter: the loaded pipeline is kept across turns and discussions."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Painter()
        return _shared
