"""Imports from other ecosystems into personality folders of the user zoo.

    import_file(path, user_zoo)   any supported file, recognised by its content:
      - SillyTavern / TavernAI character cards: V1/V2/V3 JSON, or PNG with the card in its
        `chara` / `ccv3` chunk (the picture becomes the logo)
      - text-generation-webui characters (YAML), with their avatar when given
      - a zip of a personality folder
      - a bare personality config.yaml

Each import is all or nothing (see staging.py). What arrives is never trusted: a processor or
install script from a zip does not run, and its install does not start, until the user trusts it.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from PIL import Image, UnidentifiedImageError

from gradio_app.personalities.importers import cards, png, staging, tgw, zipped
from gradio_app.personalities.importers.errors import ImportRejected
from gradio_app.personalities.personality import CONFIG_FILE
from gradio_app.personalities.schema import PersonalityConfig, PersonalityError

__all__ = ["ImportOptions", "ImportRejected", "ImportResult", "import_file", "import_files"]

DEFAULT_LANGUAGE = "english"
DEFAULT_CATEGORY = "characters"
MAX_FILE_BYTES = 50_000_000
MAX_LOGO_PIXELS = 40_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


@dataclass(frozen=True)
class ImportOptions:
    language: str | None = None  # None: the source's own (zip, config.yaml), else DEFAULT_LANGUAGE
    category: str | None = None  # None: the source's own, else DEFAULT_CATEGORY
    replace: bool = False  # overwrite a personality of the same id in the user zoo


@dataclass(frozen=True)
class ImportResult:
    personality_id: str
    folder: Path
    name: str
    kind: str
    has_scripts: bool
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"Imported **{self.name}** ({self.kind}) as `{self.personality_id}`."]
        lines += self.notes
        return "\n".join(lines)


def import_file(
    path: Path,
    user_zoo: Path,
    options: ImportOptions | None = None,
    *,
    reserved_ids: Collection[str] = (),
    avatar: Path | None = None,
    display_name: str | None = None,
) -> ImportResult:
    """Import one file. `reserved_ids` are ids owned by other zoo roots (the built-in zoo): an
    import there would be hidden, so it is refused. `avatar` is an image for a tgw character."""
    options = options or ImportOptions()
    source = display_name or path.name
    data = _read(path, source)
    if png.is_png(data):
        card = cards.card_from_png(data, source)
        logo = _card_logo(data, source)
        return _import_card(card, f"character card {_spec_label(card)} (PNG)", logo, user_zoo, options, reserved_ids)
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _import_zip(path, source, user_zoo, options, reserved_ids)
    if _looks_like_image(data):
        raise ImportRejected(f"{source}: an image without a character card in it (only PNG cards carry one)")
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{"):
        card = cards.card_from_json_bytes(data, source)
        return _import_card(card, f"character card {_spec_label(card)} (JSON)", None, user_zoo, options, reserved_ids)
    return _import_yaml(data, source, user_zoo, options, reserved_ids, avatar)


def import_files(
    paths: Sequence[Path],
    user_zoo: Path,
    options: ImportOptions | None = None,
    *,
    reserved_ids: Collection[str] = (),
    names: Sequence[str] | None = None,
) -> list[ImportResult | ImportRejected]:
    """Several files at once (an upload): a YAML character and an image with the same stem go
    together (the image is its avatar). One result or error per import, in order."""
    display = list(names) if names else [p.name for p in paths]
    items = list(zip(paths, display, strict=True))
    stems = {Path(name).stem.lower(): path for path, name in items if Path(name).suffix.lower() in (".yaml", ".yml")}
    outcomes: list[ImportResult | ImportRejected] = []
    for path, name in items:
        suffix, stem = Path(name).suffix.lower(), Path(name).stem.lower()
        if suffix in IMAGE_SUFFIXES and stem in stems and not _is_png_card(path):
            continue  # the avatar of a YAML character, imported with it
        avatar = None
        if suffix in (".yaml", ".yml"):
            avatar = next(
                (p for p, n in items if Path(n).stem.lower() == stem and Path(n).suffix.lower() in IMAGE_SUFFIXES),
                None,
            )
        try:
            outcomes.append(
                import_file(path, user_zoo, options, reserved_ids=reserved_ids, avatar=avatar, display_name=name)
            )
        except ImportRejected as e:
            outcomes.append(e)
    return outcomes


# -- the formats ----------------------------------------------------------------------------------
def _import_card(
    card: cards.Card,
    kind: str,
    logo: bytes | None,
    user_zoo: Path,
    options: ImportOptions,
    reserved_ids: Collection[str],
) -> ImportResult:
    language = staging.safe_component(options.language or DEFAULT_LANGUAGE, "language")
    category = staging.safe_component(options.category or DEFAULT_CATEGORY, "category")
    config = cards.card_to_config(card, language, category)
    notes = []
    if card.data.get("character_book"):
        always = len(cards.constant_lore(card))
        notes.append(f"Its lorebook is kept with the card; {always} always-on entries are in the conditioning.")
    return _publish(config, staging.slug(card.name, "character"), kind, logo, user_zoo, options, reserved_ids, notes)


def _import_yaml(
    data: bytes,
    source: str,
    user_zoo: Path,
    options: ImportOptions,
    reserved_ids: Collection[str],
    avatar: Path | None,
) -> ImportResult:
    try:
        parsed: Any = yaml.safe_load(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, yaml.YAMLError):
        parsed = None  # parse_tgw gives the precise error below
    if isinstance(parsed, dict) and not tgw.is_tgw_character(parsed) and _is_personality_config(parsed):
        return _import_config(data, source, user_zoo, options, reserved_ids)
    if parsed is not None and not isinstance(parsed, dict):
        raise ImportRejected(
            f"{source}: unrecognised file; expected a character card (PNG or JSON), a text-generation-webui "
            "character (YAML), a personality zip or a personality config.yaml"
        )
    character = tgw.parse_tgw(data, source)
    language = staging.safe_component(options.language or DEFAULT_LANGUAGE, "language")
    category = staging.safe_component(options.category or DEFAULT_CATEGORY, "category")
    config = tgw.tgw_to_config(character, language, category)
    logo = _image_as_png(_read(avatar, avatar.name), avatar.name) if avatar else None
    name = config["name"]
    notes = [] if logo else ["No avatar came with it: a logo was drawn."]
    kind = "text-generation-webui character"
    return _publish(config, staging.slug(name, "character"), kind, logo, user_zoo, options, reserved_ids, notes)


def _is_personality_config(data: dict[str, Any]) -> bool:
    return "name" in data and any(
        k in data for k in ("personality_conditioning", "ai_message_prefix", "user_message_prefix", "welcome_message")
    )


def _import_config(
    data: bytes, source: str, user_zoo: Path, options: ImportOptions, reserved_ids: Collection[str]
) -> ImportResult:
    with staging.staging_folder(user_zoo) as staged:
        (staged / CONFIG_FILE).write_bytes(data)
        config = _load_config(staged, source)
        language, category = _placement(config, options)
        folder_name = staging.slug(config.name)
        return _finish(
            staged, language, category, folder_name, "personality config.yaml", user_zoo, options, reserved_ids, []
        )


def _import_zip(
    archive: Path, source: str, user_zoo: Path, options: ImportOptions, reserved_ids: Collection[str]
) -> ImportResult:
    with staging.staging_folder(user_zoo) as staged:
        extracted = zipped.extract_personality_zip(archive, staged, source)
        config = _load_config(staged, source)
        language, category = _placement(config, options)
        folder_name = (
            staging.safe_component(extracted.folder_name, "folder")
            if extracted.folder_name
            else staging.slug(config.name)
        )
        notes = []
        if extracted.dropped:
            notes.append(
                f"Ignored {', '.join(extracted.dropped)} from the zip: install and trust are decided on this machine."
            )
        return _finish(
            staged, language, category, folder_name, "personality zip", user_zoo, options, reserved_ids, notes
        )


def _load_config(staged: Path, source: str) -> PersonalityConfig:
    try:
        return PersonalityConfig.load(staged / CONFIG_FILE)
    except PersonalityError as e:
        where = f", field '{e.field}'" if e.field else ""
        raise ImportRejected(f"{source}: {CONFIG_FILE}{where}: {e.reason}") from e


def _placement(config: PersonalityConfig, options: ImportOptions) -> tuple[str, str]:
    language = staging.safe_component(options.language or config.language or DEFAULT_LANGUAGE, "language")
    category = staging.safe_component(options.category or config.category or "generic", "category")
    return language, category


def _publish(
    config: dict[str, Any],
    folder_name: str,
    kind: str,
    logo: bytes | None,
    user_zoo: Path,
    options: ImportOptions,
    reserved_ids: Collection[str],
    notes: list[str],
) -> ImportResult:
    with staging.staging_folder(user_zoo) as staged:
        staging.write_config(staged, config)
        if logo is not None:
            (staged / "assets").mkdir()
            (staged / "assets" / "logo.png").write_bytes(logo)
        return _finish(
            staged, config["language"], config["category"], folder_name, kind, user_zoo, options, reserved_ids, notes
        )


def _finish(
    staged: Path,
    language: str,
    category: str,
    folder_name: str,
    kind: str,
    user_zoo: Path,
    options: ImportOptions,
    reserved_ids: Collection[str],
    notes: list[str],
) -> ImportResult:
    personality = staging.check_loads(staged)
    if personality.logo_path is None:
        from gradio_app.personalities.logo import ensure_logo

        ensure_logo(personality)
    pid = f"{language}/{category}/{folder_name}"
    if pid in reserved_ids:
        raise ImportRejected(f"'{pid}' is a built-in personality; import this one under another category")
    target = user_zoo / language / category / folder_name
    has_scripts = personality.has_scripts
    staging.publish(staged, target, options.replace)
    if has_scripts:
        notes = [
            *notes,
            "⚠️ It carries scripts (code that would run on this machine). They stay off, and nothing is "
            "installed, until you trust it from its card.",
        ]
    return ImportResult(pid, target, personality.name, kind, has_scripts, notes)


# -- bytes and images -----------------------------------------------------------------------------
def _read(path: Path, source: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportRejected(f"{source}: the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
        data = path.read_bytes()
    except OSError as e:
        raise ImportRejected(f"{source}: cannot read ({e.strerror})") from e
    if not data:
        raise ImportRejected(f"{source}: the file is empty")
    return data


def _spec_label(card: cards.Card) -> str:
    return {cards.SPEC_V1: "V1", cards.SPEC_V2: "V2", cards.SPEC_V3: "V3"}[card.spec]


def _looks_like_image(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff" or (data[:4] == b"RIFF" and data[8:12] == b"WEBP") or data[:4] == b"GIF8"


def _is_png_card(path: Path) -> bool:
    try:
        data = path.read_bytes()
        return png.is_png(data) and bool({"chara", "ccv3"} & set(png.text_chunks(png.read_chunks(data))))
    except (OSError, ImportRejected):
        return False


def _check_image(data: bytes, source: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_LOGO_PIXELS:
                raise ImportRejected(f"{source}: the image is {probe.width}x{probe.height}; too large for a logo")
            probe.load()  # decodes the pixels: a broken image data stream fails here
            return probe.copy()
    except ImportRejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ImportRejected(f"{source}: the image cannot be read ({e})") from e


def _card_logo(data: bytes, source: str) -> bytes:
    """The card's picture without its card chunks (the card itself lives in config.yaml)."""
    _check_image(data, source)
    return png.with_text_chunks(data, {}, drop=("chara", "ccv3"))


def _image_as_png(data: bytes, source: str) -> bytes:
    if png.is_png(data):
        png.read_chunks(data, source)
        _check_image(data, source)
        return data
    image = _check_image(data, source)
    out = io.BytesIO()
    image.convert("RGBA").save(out, format="PNG", optimize=True)
    return out.getvalue()
