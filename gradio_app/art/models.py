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
    """Every model found in `folder` (diffusers folders and single files)."""
    found: list[SdModelRef] = []
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and (entry / "model_index.json").is_file():
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


def resolve_model(name: str, folder: Path, *, allow_ckpt: bool = False) -> SdModelRef:
    name = name.strip()
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
    return (
        f"No Stable Diffusion model named '{name}' in {folder}. Put a diffusers model folder (with "
        f"model_index.json inside) or a .safetensors file there and set model_name in the art "
        f"personality's config_local.yaml to its name. See {folder / 'README.md'}."
    )
