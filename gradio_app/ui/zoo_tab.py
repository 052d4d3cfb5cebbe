"""Personalities Zoo tab: browse language -> category -> personality, see its card, select it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from gradio_app.context import AppContext
from gradio_app.personalities.schema import PersonalityError
from gradio_app.session import ChatSession
from gradio_app.ui.render import personality_card, personality_choices


@dataclass
class ZooTab:
    language: gr.Dropdown
    category: gr.Dropdown
    personality: gr.Dropdown
    logo: gr.Image
    card: gr.Markdown
    select: gr.Button


def load_logo(ctx: AppContext, personality_id: str | None) -> Image.Image | None:
    """The logo as an image (not a path), so no zoo file needs to be served directly."""
    entry = ctx.zoo.entries.get(personality_id or "")
    path = entry.personality.logo_path if entry and entry.personality else None
    if path is None:
        return None
    try:
        with Image.open(path) as img:
            img.thumbnail((256, 256))
            return img.convert("RGBA")
    except (OSError, ValueError):
        return None


def card_for(ctx: AppContext, personality_id: str | None) -> tuple[Any, str]:
    entry = ctx.zoo.entries.get(personality_id or "")
    if entry is None:
        return None, "_Choose a personality._"
    return load_logo(ctx, personality_id), personality_card(entry)


def build(ctx: AppContext, state: gr.State) -> ZooTab:
    zoo = ctx.zoo
    with gr.Row():
        language = gr.Dropdown(zoo.languages(), label="Language")
        category = gr.Dropdown([], label="Category")
        # allow_custom_value: API callers pass any id; select_personality() validates it.
        personality = gr.Dropdown([], label="Personality", allow_custom_value=True)
    with gr.Row():
        logo = gr.Image(label="Logo", type="pil", height=200, width=200, interactive=False, scale=1)
        card = gr.Markdown(scale=3)
    select = gr.Button("Select this personality", variant="primary")
    tab = ZooTab(language, category, personality, logo, card, select)

    # `.input` (user actions only), not `.change`: programmatic updates must not cascade.
    def on_personality(pid: str | None) -> tuple[Any, str]:
        return card_for(ctx, pid)

    def on_category(lang: str | None, cat: str | None) -> tuple[Any, ...]:
        entries = zoo.in_category(lang, cat) if lang and cat else []
        pid = entries[0].id if entries else None
        return (gr.update(choices=personality_choices(entries), value=pid), *on_personality(pid))

    def on_language(lang: str | None) -> tuple[Any, ...]:
        cats = zoo.categories(lang) if lang else []
        cat = cats[0] if cats else None
        return (gr.update(choices=cats, value=cat), *on_category(lang, cat))

    hidden = {"api_visibility": "private"}
    language.input(on_language, language, [category, personality, logo, card], **hidden)
    category.input(on_category, [language, category], [personality, logo, card], **hidden)
    personality.input(on_personality, personality, [logo, card], **hidden)
    return tab


def zoo_position(ctx: AppContext, session: ChatSession) -> list[Any]:
    """Values for [language, category, personality, logo, card] showing the current personality."""
    entry = ctx.zoo.entries.get(session.personality_id)
    if entry is None:
        return [gr.update(), gr.update(), gr.update(), None, "_Choose a personality._"]
    return [
        gr.update(value=entry.language),
        gr.update(choices=ctx.zoo.categories(entry.language), value=entry.category),
        gr.update(choices=personality_choices(ctx.zoo.in_category(entry.language, entry.category)), value=entry.id),
        *card_for(ctx, entry.id),
    ]


def select_personality(ctx: AppContext, session: ChatSession, personality_id: str | None) -> str:
    """Switch the session to `personality_id` (a new discussion); returns a status line."""
    try:
        personality = ctx.zoo.get(personality_id or "")
    except PersonalityError as e:
        raise gr.Error(str(e)) from e
    session.new_discussion(personality)
    return f"Now talking with **{personality.name}**."
