"""text-generation-webui characters (YAML: name, greeting, context) -> personality configs.

text-generation-webui puts the whole character, example dialogue included, in `context`, with
`{{char}}` and `{{user}}` placeholders; `greeting` opens the chat. Its older format used
`char_name`, `char_persona`, `char_greeting`, `world_scenario` and `example_dialogue`: both are
read. The original YAML is kept under `extensions.tgw_character`.
"""

from __future__ import annotations

from typing import Any

import yaml

from gradio_app.personalities.importers.cards import DEFAULT_USER, fill_macros
from gradio_app.personalities.importers.errors import ImportRejected
from gradio_app.personalities.schema import PersonalityError, refuse_expansion_bombs

TGW_EXTENSION = "tgw_character"
MAX_TGW_BYTES = 2_000_000
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_tgw(raw: bytes, source: str = "character") -> dict[str, Any]:
    """The character's YAML mapping, checked to be a text-generation-webui character."""
    if len(raw) > MAX_TGW_BYTES:
        raise ImportRejected(f"{source}: the file is {len(raw)} bytes; the limit is {MAX_TGW_BYTES}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportRejected(f"{source}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader, C-accelerated
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ImportRejected(f"{source}: invalid YAML{where}: {getattr(e, 'problem', None) or e}") from e
    try:
        refuse_expansion_bombs(data, source)
    except PersonalityError as e:
        raise ImportRejected(str(e)) from e
    if not is_tgw_character(data):
        raise ImportRejected(
            f"{source}: not a text-generation-webui character (expected 'name' with 'context' or 'greeting')"
        )
    for key in ("name", "char_name", "greeting", "char_greeting", "context", "char_persona", "world_scenario"):
        value = data.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            raise ImportRejected(f"{source}: field '{key}': expected text, got {type(value).__name__}")
    return data


def is_tgw_character(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    has_name = "name" in data or "char_name" in data
    has_body = any(k in data for k in ("context", "greeting", "char_persona", "char_greeting"))
    return has_name and has_body


def tgw_to_config(data: dict[str, Any], language: str, category: str, user: str = DEFAULT_USER) -> dict[str, Any]:
    name = str(data.get("name") or data.get("char_name") or "").strip()
    if not name:
        raise ImportRejected("field 'name': a character needs a non-empty name")

    def text(key: str) -> str:
        value = data.get(key)
        return "" if value is None else str(value).strip()

    context = text("context")
    if not context:  # the older format, assembled the way text-generation-webui did
        parts = []
        if text("char_persona"):
            parts.append(f"{name}'s Persona: {text('char_persona')}")
        if text("world_scenario"):
            parts.append(f"Scenario: {text('world_scenario')}")
        if text("example_dialogue"):
            parts.append(text("example_dialogue").replace("<START>", "").strip())
        context = "\n\n".join(parts)
    conditioning = fill_macros(context, name, user)
    greeting = fill_macros(text("greeting") or text("char_greeting"), name, user)
    return {
        "name": name,
        "author": "",
        "version": "1.0.0",
        "language": language,
        "category": category,
        "personality_description": _first_sentence(conditioning) or f"{name}, a text-generation-webui character.",
        "personality_conditioning": conditioning + "\n" if conditioning else "",
        "welcome_message": greeting,
        "disclaimer": "",
        "user_name": user,
        "user_message_prefix": f"{user}: ",
        "link_text": "\n",
        "ai_message_prefix": f"{name}: ",
        "anti_prompts": [f"\n{user}:", f"\n{name}:"],
        "include_welcome_message_in_discussion": True,
        "model_temperature": 0.7,
        "model_n_predicts": 300,
        "model_top_k": 40,
        "model_top_p": 0.9,
        "model_repeat_penalty": 1.12,
        "model_repeat_last_n": 64,
        "extensions": {TGW_EXTENSION: data},
    }


def _first_sentence(text: str, limit: int = 240) -> str:
    line = " ".join(text.split("\n\n", 1)[0].split())
    end = line.find(". ")
    sentence = line[: end + 1] if 0 < end < limit else line[:limit]
    return sentence.strip()
