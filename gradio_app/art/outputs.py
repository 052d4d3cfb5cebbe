"""Saving generated images: watermarked, unguessable names, generation facts in PNG metadata."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from gradio_app.art.watermark import apply_watermark
from gradio_app.fileio import atomic_write_bytes

METADATA_KEY = "personalities-webui"


@dataclass(frozen=True)
class SavedImage:
    path: Path
    facts: dict[str, Any]  # as written into the PNG: the caller's facts + saved_width/saved_height


def save_image(image: Image.Image, folder: Path, facts: dict[str, Any]) -> SavedImage:
    """Watermark and save `image` as PNG under `folder`; `facts` (prompt, seed, width, height...)
    go into metadata. The watermark enlarges images under 256x256, so the file's own size is
    recorded too (saved_width/saved_height), beside the painted width/height."""
    import io

    marked = apply_watermark(image)
    facts = {**facts, "saved_width": marked.width, "saved_height": marked.height}
    info = PngInfo()
    info.add_text(METADATA_KEY, json.dumps(facts, ensure_ascii=False))
    info.add_text("parameters", _a1111_parameters(facts))  # read by other tools (A1111, ComfyUI)
    info.add_text("Software", "Personalities WebUI")
    buffer = io.BytesIO()
    marked.save(buffer, format="PNG", pnginfo=info)
    path = folder / f"{secrets.token_urlsafe(18)}.png"
    atomic_write_bytes(path, buffer.getvalue())
    return SavedImage(path, facts)


def read_facts(path: Path) -> dict[str, Any]:
    with Image.open(path) as image:
        raw = image.text.get(METADATA_KEY, "{}")  # type: ignore[attr-defined]
    return json.loads(raw)


def _a1111_parameters(facts: dict[str, Any]) -> str:
    head = str(facts.get("prompt", ""))
    if facts.get("negative_prompt"):
        head += f"\nNegative prompt: {facts['negative_prompt']}"
    if "width" in facts and "height" in facts:  # the painted size, as A1111 writes it
        facts = {**facts, "size": f"{facts['width']}x{facts['height']}"}
    tail = ", ".join(
        f"{label}: {facts[key]}"
        for label, key in (
            ("Steps", "steps"),
            ("Sampler", "sampler"),
            ("CFG scale", "guidance_scale"),
            ("Seed", "seed"),
            ("Size", "size"),
            ("Model", "model"),
        )
        if key in facts
    )
    return f"{head}\n{tail}"
