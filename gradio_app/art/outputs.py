"""Saving generated images: watermarked, unguessable names, generation facts in PNG metadata."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from gradio_app.art.watermark import apply_watermark
from gradio_app.fileio import atomic_write_bytes

METADATA_KEY = "personalities-webui"


def save_image(image: Image.Image, folder: Path, facts: dict[str, Any]) -> Path:
    """Watermark and save `image` as PNG under `folder`; `facts` (prompt, seed...) go into metadata."""
    import io

    marked = apply_watermark(image)
    info = PngInfo()
    info.add_text(METADATA_KEY, json.dumps(facts, ensure_ascii=False))
    info.add_text("parameters", _a1111_parameters(facts))  # read by other tools (A1111, ComfyUI)
    info.add_text("Software", "Personalities WebUI")
    buffer = io.BytesIO()
    marked.save(buffer, format="PNG", pnginfo=info)
    path = folder / f"{secrets.token_urlsafe(18)}.png"
    atomic_write_bytes(path, buffer.getvalue())
    return path


def read_facts(path: Path) -> dict[str, Any]:
    with Image.open(path) as image:
        raw = image.text.get(METADATA_KEY, "{}")  # type: ignore[attr-defined]
    return json.loads(raw)


def _a1111_parameters(facts: dict[str, Any]) -> str:
    head = str(facts.get("prompt", ""))
    if facts.get("negative_prompt"):
        head += f"\nNegative prompt: {facts['negative_prompt']}"
    tail = ", ".join(
        f"{label}: {facts[key]}"
        for label, key in (
            ("Steps", "steps"),
            ("Sampler", "sampler"),
            ("CFG scale", "guidance_scale"),
            ("Seed", "seed"),
            ("Model", "model"),
        )
        if key in facts
    )
    return f"{head}\n{tail}"
