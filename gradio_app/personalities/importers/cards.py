"""SillyTavern / TavernAI character cards (V1, V2, V3) <-> personality configs.

A card describes a character (description, personality, scenario, example messages, greetings, a
lorebook); a personality needs one conditioning text, a welcome message, prefixes and stops. The
import composes the conditioning from the card's fields with `{{char}}`/`{{user}}` filled in, and
keeps the whole original card, untouched, under `extensions.character_card` in config.yaml: that
copy is what the export writes back, so card -> personality -> card loses nothing. Fields the user
edited after the import (name, welcome message, author, version, description) win over the stored
copy; other edits travel in the card's `extensions.personalities_webui`.

Specs: https://github.com/malfoyslastname/character-card-spec-v2 (V2, `chara` PNG chunk) and
https://github.com/kwaroran/character-card-spec-v3 (V3, `ccv3` chunk, preferred when both exist).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from gradio_app.personalities.importers.errors import ImportRejected
from gradio_app.personalities.importers.png import read_chunks, text_chunks
from gradio_app.personalities.schema import PersonalityConfig, PersonalityError

SPEC_V2 = "chara_card_v2"
SPEC_V3 = "chara_card_v3"
SPEC_V1 = "chara_card_v1"  # our name for a card without `spec` (TavernAI's flat format)
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
V2_TEXT_FIELDS = (
    *V1_FIELDS,
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
)
V2_LIST_FIELDS = ("alternate_greetings", "tags")
CARD_EXTENSION = "character_card"  # key under config.yaml `extensions` holding the original card
OUR_EXTENSION = "personalities_webui"  # key under the card's data.extensions holding our settings
MAX_CARD_JSON_BYTES = 10_000_000
DEFAULT_USER = "User"

# Our fields that a card holds one-to-one: config key -> card data key.
ONE_TO_ONE = {
    "name": "name",
    "welcome_message": "first_mes",
    "author": "creator",
    "version": "character_version",
    "personality_description": "creator_notes",
}
# Config keys that say where a personality lives, not what it is: never compared or exported.
_PLACEMENT = ("language", "category", "extensions")


@dataclass(frozen=True)
class Card:
    spec: str  # SPEC_V1, SPEC_V2 or SPEC_V3
    data: dict[str, Any]  # the card's `data` (for V1: its flat fields)
    raw: dict[str, Any]  # the JSON object exactly as it came

    @property
    def name(self) -> str:
        return str(self.data["name"]).strip()

    def field(self, key: str) -> str:
        value = self.data.get(key)
        return value if isinstance(value, str) else ""


# -- reading ------------------------------------------------------------------------------------
def parse_card(obj: Any, source: str = "card") -> Card:
    """Validate a card's JSON object (any spec); ImportRejected names the bad field."""
    if not isinstance(obj, dict):
        raise ImportRejected(f"{source}: a character card is a JSON object, got {type(obj).__name__}")
    spec = obj.get("spec")
    if spec is None:
        if not isinstance(obj.get("name"), str):
            raise ImportRejected(f"{source}: not a character card (no 'spec' and no 'name')")
        data = {k: obj[k] for k in V1_FIELDS if k in obj}
        _check_fields(data, source, "")
        card = Card(SPEC_V1, data, obj)
    elif spec in (SPEC_V2, SPEC_V3):
        data = obj.get("data")
        if not isinstance(data, dict):
            raise ImportRejected(f"{source}: field 'data': a {spec} card needs a 'data' object")
        version = str(obj.get("spec_version", ""))
        expected = "2" if spec == SPEC_V2 else "3"
        if not version.startswith(expected):
            raise ImportRejected(f"{source}: field 'spec_version': {version!r} does not match spec {spec}")
        _check_fields(data, source, "data.")
        card = Card(spec, data, obj)
    else:
        raise ImportRejected(
            f"{source}: field 'spec': unsupported card spec {spec!r} (expected {SPEC_V2} or {SPEC_V3}, "
            "or a V1 card without 'spec')"
        )
    if not card.name:
        raise ImportRejected(f"{source}: field 'name': a character needs a non-empty name")
    return card


def _check_fields(data: dict[str, Any], source: str, prefix: str) -> None:
    for key in V2_TEXT_FIELDS:
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise ImportRejected(f"{source}: field '{prefix}{key}': expected text, got {type(data[key]).__name__}")
    for key in V2_LIST_FIELDS:
        value = data.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise ImportRejected(f"{source}: field '{prefix}{key}': expected a list of texts")
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise ImportRejected(f"{source}: field '{prefix}extensions': expected an object")
    book = data.get("character_book")
    if book is not None:
        if not isinstance(book, dict):
            raise ImportRejected(f"{source}: field '{prefix}character_book': expected an object")
        entries = book.get("entries", [])
        if not isinstance(entries, list):
            raise ImportRejected(f"{source}: field '{prefix}character_book.entries': expected a list")
        for i, entry in enumerate(entries):
            where = f"{source}: field '{prefix}character_book.entries[{i}]"
            if not isinstance(entry, dict):
                raise ImportRejected(f"{where}': expected an object")
            if not isinstance(entry.get("content", ""), str):
                raise ImportRejected(f"{where}.content': expected text")
            keys = entry.get("keys", [])
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ImportRejected(f"{where}.keys': expected a list of texts")


def card_from_json_bytes(raw: bytes, source: str = "card") -> Card:
    if len(raw) > MAX_CARD_JSON_BYTES:
        raise ImportRejected(f"{source}: the card is {len(raw)} bytes; the limit is {MAX_CARD_JSON_BYTES}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportRejected(f"{source}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ImportRejected(f"{source}: bad JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e
    return parse_card(obj, source)


def card_from_png(data: bytes, source: str = "PNG card") -> Card:
    """The card in a PNG's `ccv3` (preferred) or `chara` text chunk (base64 of UTF-8 JSON)."""
    texts = text_chunks(read_chunks(data, source), source)
    for keyword in ("ccv3", "chara"):
        if keyword not in texts:
            continue
        payload = re.sub(r"\s+", "", texts[keyword])
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ImportRejected(f"{source}: the '{keyword}' chunk is not valid base64 ({e})") from e
        return card_from_json_bytes(raw, f"{source} ('{keyword}' chunk)")
    raise ImportRejected(f"{source}: this PNG holds no character card (no 'chara' or 'ccv3' text chunk)")


# -- card -> personality ------------------------------------------------------------------------
_MACRO = re.compile(r"\{\{\s*(char|user)\s*\}\}|<(BOT|USER)>", re.IGNORECASE)


def fill_macros(text: str, char: str, user: str = DEFAULT_USER) -> str:
    """{{char}} / {{user}} (any case) and the older <BOT> / <USER>, as SillyTavern fills them."""

    def sub(m: re.Match[str]) -> str:
        word = (m.group(1) or m.group(2)).lower()
        return char if word in ("char", "bot") else user

    return _MACRO.sub(sub, text)


DEFAULT_INSTRUCTION = (
    "You are {{char}}. Stay in character and reply as {{char}} would, in a few sentences. Never write {{user}}'s lines."
)


def compose_conditioning(card: Card, user: str = DEFAULT_USER) -> str:
    """One conditioning text from the card's prompt fields, in SillyTavern's order."""
    char = _display_name(card)
    system = card.field("system_prompt").strip()
    system = system.replace("{{original}}", DEFAULT_INSTRUCTION) if system else DEFAULT_INSTRUCTION
    parts = [system, card.field("description").strip()]
    if card.field("personality").strip():
        parts.append(f"{{{{char}}}}'s personality: {card.field('personality').strip()}")
    if card.field("scenario").strip():
        parts.append(f"Scenario: {card.field('scenario').strip()}")
    lore = constant_lore(card)
    if lore:
        parts.append("Facts:\n" + "\n".join(lore))
    examples = _examples(card.field("mes_example"))
    if examples:
        parts.append(f"Examples of how {{{{char}}}} talks:\n{examples}")
    if card.field("post_history_instructions").strip():
        parts.append(card.field("post_history_instructions").strip().replace("{{original}}", ""))
    return fill_macros("\n\n".join(p for p in parts if p), char, user) + "\n"


def _display_name(card: Card) -> str:
    nickname = card.data.get("nickname")  # V3: {{char}} is the nickname when there is one
    return nickname.strip() if isinstance(nickname, str) and nickname.strip() else card.name


def constant_lore(card: Card) -> list[str]:
    """Lorebook entries marked constant are always in the prompt; keyword-triggered ones need a
    lorebook engine and stay in the stored card."""
    book = card.data.get("character_book")
    if not isinstance(book, dict):
        return []
    return [
        e["content"].strip()
        for e in book.get("entries", [])
        if e.get("constant") is True and e.get("enabled", True) is not False and str(e.get("content", "")).strip()
    ]


def _examples(mes_example: str) -> str:
    blocks = [b.strip() for b in re.split(r"<START>", mes_example, flags=re.IGNORECASE)]
    return "\n\n".join(b for b in blocks if b)


def card_to_config(card: Card, language: str, category: str, user: str = DEFAULT_USER) -> dict[str, Any]:
    """The config.yaml of a personality made from `card` (the card itself kept in extensions)."""
    char = _display_name(card)
    description = card.field("creator_notes").strip()
    if not description:
        description = _shorten(fill_macros(card.field("description"), char, user), 300)
    config: dict[str, Any] = {
        "name": card.name,
        "author": card.field("creator").strip(),
        "version": card.field("character_version").strip() or "1.0.0",
        "language": language,
        "category": category,
        "personality_description": description,
        "personality_conditioning": compose_conditioning(card, user),
        "welcome_message": fill_macros(card.field("first_mes"), char, user).strip(),
        "disclaimer": "",
        "user_name": user,
        "user_message_prefix": f"### {user}:\n",
        "link_text": "\n",
        "ai_message_prefix": f"### {char}:\n",
        "anti_prompts": [f"### {user}", f"### {char}", f"\n{user}:"],
        "include_welcome_message_in_discussion": True,
        "model_temperature": 0.8,
        "model_n_predicts": 300,
        "model_top_k": 40,
        "model_top_p": 0.92,
        "model_repeat_penalty": 1.12,
        "model_repeat_last_n": 64,
    }
    ours = (card.data.get("extensions") or {}).get(OUR_EXTENSION)
    if isinstance(ours, dict):
        # A card we exported: our own settings come back as they were.
        config.update({k: v for k, v in ours.items() if k not in _PLACEMENT})
    config["extensions"] = {CARD_EXTENSION: card.raw}
    return config


def normalized(config: dict[str, Any]) -> dict[str, Any]:
    """`config` as it reads back from config.yaml (defaults filled, types coerced), so a fresh
    import and its saved file compare equal."""
    try:
        return PersonalityConfig.from_dict(config).to_dict()
    except PersonalityError as e:
        raise ImportRejected(str(e)) from e


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


# -- personality -> card ------------------------------------------------------------------------
def stored_card(config: dict[str, Any]) -> Card | None:
    """The card a personality was imported from, if any (None when absent or unusable)."""
    extensions = config.get("extensions")
    raw = extensions.get(CARD_EXTENSION) if isinstance(extensions, dict) else None
    if raw is None:
        return None
    try:
        return parse_card(raw)
    except ImportRejected:
        return None


def config_to_card(config: dict[str, Any]) -> dict[str, Any]:
    """A V2 card (with the V1 fields mirrored at the top, as SillyTavern writes them)."""
    card = stored_card(config)
    if card is None:
        data = _native_card_data(config)
        top: dict[str, Any] = {}
    else:
        data = _updated_card_data(card, config)
        top = {k: copy.deepcopy(v) for k, v in card.raw.items() if k not in ("spec", "spec_version", "data")}
    for key in V1_FIELDS:
        top[key] = data.get(key, "")
    return {**top, "spec": SPEC_V2, "spec_version": "2.0", "data": data}


def _native_card_data(config: dict[str, Any]) -> dict[str, Any]:
    ours = {k: v for k, v in config.items() if k not in _PLACEMENT}
    tags = [t for t in (config.get("category"), config.get("language")) if isinstance(t, str) and t]
    return {
        "name": str(config.get("name", "")),
        "description": str(config.get("personality_conditioning", "")),
        "personality": "",
        "scenario": "",
        "first_mes": str(config.get("welcome_message", "")),
        "mes_example": "",
        "creator_notes": str(config.get("personality_description", "")),
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": [],
        "tags": tags,
        "creator": str(config.get("author", "")),
        "character_version": str(config.get("version", "")),
        "extensions": {OUR_EXTENSION: ours},
    }


def _updated_card_data(card: Card, config: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(card.data)
    if card.spec == SPEC_V1:
        for key in V2_TEXT_FIELDS:
            data.setdefault(key, "")
        for key in V2_LIST_FIELDS:
            data.setdefault(key, [])
        data.setdefault("extensions", {})
    derived = normalized(card_to_config(card, str(config.get("language", "")), str(config.get("category", ""))))
    config = normalized(config)
    edited: dict[str, Any] = {}
    for key, value in config.items():
        if key in _PLACEMENT or derived.get(key) == value:
            continue
        if key in ONE_TO_ONE:
            data[ONE_TO_ONE[key]] = value
        else:
            edited[key] = value
    if edited:
        extensions = data.get("extensions")
        data["extensions"] = {**(extensions if isinstance(extensions, dict) else {}), OUR_EXTENSION: edited}
    if card.spec == SPEC_V3:
        # V2 has no place for V3's extra fields; they travel in extensions so nothing is lost.
        v2_keys = {*V2_TEXT_FIELDS, *V2_LIST_FIELDS, "extensions", "character_book"}
        extra = {k: data.pop(k) for k in list(data) if k not in v2_keys}
        if extra:
            extensions = data.get("extensions")
            data["extensions"] = {**(extensions if isinstance(extensions, dict) else {}), SPEC_V3: extra}
    return data
