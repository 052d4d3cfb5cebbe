"""Which Stable Diffusion model to load: a diffusers folder, a single file, or a Hub id.

Looked up in the project's `shared/sd_models/` (where users drop models). A `.ckpt` is a Python
pickle that can run code when loaded, so it is used only with the explicit `allow_ckpt` opt-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# Short names for Hub models that run acceptably on a CPU (distilled: 1-4 steps).
HUB_ALIASES = {
    "sd-turbo": "stabilityai/sd-turbo",
    "sdxl-turbo": "stabilityai/sdxl-turbo",
    "small-sd": "segmind/small-sd",
}
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")


class SdModelMissing(FileNotFoundError):
    """No usable model by that name; the message says exactly where to put one."""


@dataclass(frozen=True)
class SdModelRef:
    name: str
    kind: Literal["folder", "single_file", "hub"]
    location: str  # a path, or a Hub repo id
    config_dir: str | None = None  # for single files: the diffusers config folder used offline


def list_models(folder: Path) -> list[SdModelRef]:
    """Every model found in `folder` (diffusers folders and single files). A folder that only
    holds the config of a single file (`<stem>.config/`, or `<stem>/` beside `<stem>.safetensors`)
    is part of that file, not a model of its own."""
    found: list[SdModelRef] = []
    if not folder.is_dir():
        return found
    entries = sorted(folder.iterdir())
    file_stems = {e.stem for e in entries if e.is_file() and e.suffix in SINGLE_FILE_SUFFIXES}
    for entry in entries:
        if entry.is_dir() and (entry / "model_index.json").is_file():
            if entry.name.endswith(".config") or entry.name in file_stems:
                continue
            found.append(SdModelRef(entry.name, "folder", str(entry)))
        elif entry.is_file() and entry.suffix in SINGLE_FILE_SUFFIXES:
            found.append(SdModelRef(entry.name, "single_file", str(entry), _config_for(entry)))
    return found


def _config_for(file: Path) -> str | None:
    """The diffusers config folder for a single-file model: `<stem>.config/` or `<stem>/` beside it."""
    for candidate in (file.with_name(file.stem + ".config"), file.with_name(file.stem)):
        if (candidate / "model_index.json").is_file():
            return str(candidate)
    return None


AUTO = "auto"  # the first model found in the folder


def resolve_model(name: str, folder: Path, *, allow_ckpt: bool = False) -> SdModelRef:
    """The model called `name` (a folder or file in `folder`, its stem, a Hub id or alias), or
    with "auto" the first one in `folder` (.ckpt files only with `allow_ckpt`)."""
    name = name.strip()
    if name == AUTO:
        usable = [r for r in list_models(folder) if allow_ckpt or not r.location.endswith(".ckpt")]
        if not usable:
            raise SdModelMissing(missing_message(name, folder))
        return usable[0]
    if "/" not in name or name.count("/") > 1:
        for ref in list_models(folder):
            if name in (ref.name, Path(ref.name).stem):
                if ref.location.endswith(".ckpt") and not allow_ckpt:
                    raise SdModelMissing(
                        f"{ref.name} is a .ckpt file: a pickle that can run code when loaded. Convert it to "
                        ".safetensors, or set allow_ckpt: true in the personality's config_local.yaml if you "
                        "trust its source."
                    )
                return ref
    if name in HUB_ALIASES or name.count("/") == 1:
        return SdModelRef(name, "hub", HUB_ALIASES.get(name, name))
    raise SdModelMissing(missing_message(name, folder))


def missing_message(name: str, folder: Path) -> str:
    what = "No Stable Diffusion model" if name == AUTO else f"No Stable Diffusion model named '{name}'"
    return (
        f"{what} in {folder}. Put a diffusers model folder (with model_index.json inside) or a "
        f".safetensors file there (or point PWEBUI_SD_MODELS at the folder that holds one), then set "
        f"model_name in the art personality's settings to its name, or to 'auto' for the first one. "
        f"Which models run well on a CPU: {folder / 'README.md'}."
    )
