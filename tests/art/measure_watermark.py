"""Measure how reliably each invisible-watermark method carries our signature (not a test).

Run: .venv/bin/python -m tests.art.measure_watermark
The numbers are quoted in shared/sd_models/README.md; they decided METHOD in gradio_app/art/watermark.py.

Images: tiny random-weight Stable Diffusion outputs (64x64, enlarged 4x like the app does, and
256x256), the photos and logos that ship with Gradio, and smooth synthetic images (gradient, flat,
blurred noise). Per method: does the first embedding decode, does apply_watermark succeed (with
its dithered retries), does the mark survive a JPEG (quality 90) round trip, and the decode time.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from gradio_app.art.watermark import SIGNATURE, WatermarkFailed, apply_watermark, enlarge_for_watermark, read_watermark

METHODS = ("dwtDct", "dwtDctSvd")


def tiny_sd_images() -> dict[str, Image.Image]:
    from gradio_app.art.models import resolve_model
    from gradio_app.art.painter import Painter
    from gradio_app.art.settings import ArtSettings
    from tests.art.tiny_sd import build_tiny_pipeline

    out: dict[str, Image.Image] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sd_models"
        build_tiny_pipeline(folder / "tiny")
        ref, painter = resolve_model("tiny", folder), Painter()
        for size in (64, 256):
            for seed in range(1, 5):
                values = {"model_name": "tiny", "steps": 3, "width": size, "height": size, "seed": seed}
                [painted] = painter.paint(ref, "a boat", ArtSettings.from_dict(values))
                out[f"tiny-sd {size}px seed {seed}"] = painted.image
    return out


def shipped_images() -> dict[str, Image.Image]:
    import gradio

    root = Path(gradio.__file__).parent
    names = ["media_assets/images/" + n for n in ("cheetah.jpg", "lion.jpg", "tower.jpg", "groot.jpeg", "bus.png")]
    names += ["media_assets/images/hf-logo_transpng.png", "test_data/cheetah2.jpg"]
    return {Path(n).name: Image.open(root / n).convert("RGB") for n in names if (root / n).is_file()}


def synthetic_images() -> dict[str, Image.Image]:
    ramp = np.tile(np.linspace(0, 255, 512, dtype=np.uint8), (512, 1))
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))
    return {
        "gradient 512px": Image.fromarray(np.dstack([ramp, ramp.T, 255 - ramp])),
        "flat grey 512px": Image.new("RGB", (512, 512), (128, 128, 128)),
        "blurred noise 512px": noise.filter(ImageFilter.GaussianBlur(6)),
    }


def first_embedding_decodes(image: Image.Image, method: str) -> bool:
    """One plain imwatermark embedding (no verification, no retry), then decode."""
    from imwatermark import WatermarkEncoder

    rgb = enlarge_for_watermark(image.convert("RGB"))
    encoder = WatermarkEncoder()
    encoder.set_watermark("bytes", SIGNATURE)
    bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
    marked = np.clip(np.rint(encoder.encode(bgr, method)), 0, 255).astype(np.uint8)
    return read_watermark(Image.fromarray(np.ascontiguousarray(marked[:, :, ::-1])), method) == SIGNATURE


def after_jpeg(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def main() -> None:
    images = {**tiny_sd_images(), **shipped_images(), **synthetic_images()}
    totals = {m: [0, 0, 0] for m in METHODS}
    print(f"{'image':28} " + "  ".join(f"{m + ': first/retried/jpeg':32}" for m in METHODS))
    for name, image in images.items():
        row = []
        for method in METHODS:
            first = first_embedding_decodes(image, method)
            try:
                marked = apply_watermark(image, method)
                retried, jpeg = True, read_watermark(after_jpeg(marked), method) == SIGNATURE
            except WatermarkFailed:
                retried = jpeg = False
            for i, ok in enumerate((first, retried, jpeg)):
                totals[method][i] += ok
            row.append(f"{'/'.join('yes' if ok else 'no' for ok in (first, retried, jpeg)):32}")
        print(f"{name[:28]:28} " + "  ".join(row))
    n = len(images)
    for method, (first, retried, jpeg) in totals.items():
        print(f"{method}: first embedding {first}/{n}, with retries {retried}/{n}, after JPEG 90 {jpeg}/{n}")
    big = apply_watermark(synthetic_images()["blurred noise 512px"])
    for method in METHODS:
        start = time.perf_counter()
        for _ in range(20):
            read_watermark(big, method)
        print(f"{method} decode of a 512x512 image: {(time.perf_counter() - start) / 20 * 1000:.1f} ms")


if __name__ == "__main__":
    main()
