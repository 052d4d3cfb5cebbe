"""Draw a personality logo with Pillow: a gradient disc with the personality's initials.

Built-in personalities get their logos from here (no downloaded art); colours derive from the
name so each logo is stable and distinct, and a personality may choose its symbol with
`logo_label` in config.yaml (default: its initials). `python -m gradio_app.personalities.logo ROOT` draws a
logo for every personality under ROOT that has none (or all of them with --force).
"""

from __future__ import annotations

import argparse
import colorsys
import hashlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from gradio_app.personalities.personality import LOGO_NAMES, Personality

SIZE = 256
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "DejaVuSans-Bold.ttf",
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in _FONT_CANDIDATES:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def initials(name: str) -> str:
    words = [w for w in name.replace("_", " ").replace("-", " ").split() if w[:1].isalnum()]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].capitalize()
    return (words[0][0] + words[1][0]).upper()


def palette(name: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    hue = digest[0] / 255
    hue2 = (hue + 0.12 + digest[1] / 255 * 0.2) % 1.0

    def rgb(h: float, lightness: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb(h, lightness, 0.65)
        return int(r * 255), int(g * 255), int(b * 255)

    return rgb(hue, 0.55), rgb(hue2, 0.3)


def draw_logo(name: str, label: str | None = None, size: int = SIZE) -> Image.Image:
    """A square RGBA logo: diagonal gradient disc, soft ring, centered initials."""
    top, bottom = palette(name)
    gradient = Image.new("RGBA", (size, size))
    px = gradient.load()
    for y in range(size):
        for x in range(size):
            t = (x + y) / (2 * (size - 1))
            px[x, y] = (*(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)), 255)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((4, 4, size - 5, size - 5), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(1))
    logo = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    logo.paste(gradient, (0, 0), mask)
    draw = ImageDraw.Draw(logo)
    ring = size // 32
    draw.ellipse((ring * 2, ring * 2, size - ring * 2, size - ring * 2), outline=(255, 255, 255, 90), width=ring)
    text = label or initials(name)
    symbol = len(text) == 1 and not text.isalnum()  # a glyph such as ✎ or ♫ reads smaller than letters
    font = _font(int(size * (0.56 if symbol else 0.42 if len(text) <= 2 else 0.3)))
    draw.text((size / 2, size / 2 + size * 0.02), text, font=font, fill=(255, 255, 255, 240), anchor="mm")
    return logo


def logo_label(personality: Personality) -> str | None:
    """The personality's own short label (config.yaml `logo_label`: a symbol or 1-3 letters)."""
    label = personality.config.extra.get("logo_label")
    return label.strip()[:4] or None if isinstance(label, str) else None


def ensure_logo(personality: Personality, force: bool = False) -> Path:
    assets = personality.folder / "assets"
    existing = [assets / n for n in LOGO_NAMES if (assets / n).is_file()]
    if existing and not force:
        return existing[0]
    assets.mkdir(parents=True, exist_ok=True)
    path = assets / "logo.png"
    draw_logo(personality.name, logo_label(personality)).save(path, optimize=True)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--force", action="store_true", help="redraw existing logos too")
    args = parser.parse_args(argv)
    for config in sorted(args.root.glob("*/*/*/config.yaml")):
        path = ensure_logo(Personality.load(config.parent), force=args.force)
        print(path)


if __name__ == "__main__":
    main()
