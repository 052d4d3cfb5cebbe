"""Exports of a personality: a zip of its folder, or a V2 character card (JSON, or PNG with the
card in its `chara` chunk, as SillyTavern reads it). Both import back with importers/."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import time
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image

from gradio_app.fileio import atomic_write_bytes
from gradio_app.personalities.importers import cards, png
from gradio_app.personalities.importers.staging import slug
from gradio_app.personalities.personality import INSTALL_MARKER, LOCAL_CONFIG_FILE, TRUST_MARKER, Personality

# Never exported: what is decided on this machine (install state, trust) and build litter.
EXCLUDED_NAMES = frozenset({INSTALL_MARKER, TRUST_MARKER, ".install.log", ".DS_Store"})
EXCLUDED_DIRS = frozenset({"__pycache__", ".git"})


def card_of(personality: Personality) -> dict[str, Any]:
    """The personality as a V2 character card (the original card back, for imported ones)."""
    return cards.config_to_card(personality.config.to_dict())


def export_card_json(personality: Personality, out_dir: Path) -> Path:
    path = out_dir / f"{slug(personality.name)}.card.json"
    text = json.dumps(card_of(personality), ensure_ascii=False, indent=2)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path


def export_card_png(personality: Personality, out_dir: Path) -> Path:
    """The logo with the card inside: opens as a picture anywhere, imports as a character."""
    payload = base64.b64encode(json.dumps(card_of(personality), ensure_ascii=False).encode("utf-8")).decode("ascii")
    path = out_dir / f"{slug(personality.name)}.card.png"
    atomic_write_bytes(path, png.with_text_chunks(_logo_png(personality), {"chara": payload}, drop=("ccv3",)))
    return path


def _logo_png(personality: Personality) -> bytes:
    logo = personality.logo_path
    if logo is not None:
        data = logo.read_bytes()
        if png.is_png(data):
            return data
        with Image.open(logo) as img:
            image = img.convert("RGBA")
    else:
        from gradio_app.personalities.logo import draw_logo

        image = draw_logo(personality.name)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def export_zip(personality: Personality, out_dir: Path, include_local_settings: bool = False) -> Path:
    """The personality folder in a zip, under its folder name. config_local.yaml (the user's own
    settings, maybe private) only when asked; symlinks are never followed."""
    root = personality.folder
    path = out_dir / f"{root.name.replace(' ', '_')}.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS)
            for name in sorted(filenames):
                file = Path(dirpath) / name
                if name in EXCLUDED_NAMES or name.endswith(".pyc"):
                    continue
                if name == LOCAL_CONFIG_FILE and file.parent == root and not include_local_settings:
                    continue
                if not stat.S_ISREG(file.lstat().st_mode):
                    continue
                arcname = (Path(root.name) / file.relative_to(root)).as_posix()
                stamp = max(time.localtime(file.stat().st_mtime)[:6], (1980, 1, 1, 0, 0, 0))
                info = zipfile.ZipInfo(arcname, date_time=stamp)
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, file.read_bytes())
    atomic_write_bytes(path, buffer.getvalue())
    return path
