"""What a machine client (the /v1 API, the MCP tools) gets from a turn: one text.

A client that reads only the answer text must still get what the chat tab shows below the answer,
so a scripted personality's images follow its text as Markdown image links to `/v1/files/...`
(served from the outputs folder under the API's own key check), then its sources as a Sources list
unless the text already links them (GPT 4 Internet writes its own). Steps are not part of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from gradio import route_utils

from gradio_app.context import AppContext
from gradio_app.personalities.schema import PersonalityError
from gradio_app.web.citations import SourceRef, safe_url, sources_section
from gradio_app.workflows.events import Done, ErrorOut

FILES_ROUTE = "/v1/files/"
ART_PERSONALITY = "english/art/gpt_for_art"
WEB_PERSONALITY = "english/internet/gpt4internet"

Link = Callable[[str], str | None]


def root_url(request: Any) -> str:
    """The app's address as the client sees it (behind a proxy too: X-Forwarded-Host/Proto).
    `request`: a Starlette request or a gr.Request (both have `headers` and `url`)."""
    path = urlsplit(str(request.url)).path
    return route_utils.get_root_url(request=request, route_path=path, root_path=None)


def file_link(outputs: Path, base_url: str) -> Link:
    """path -> its URL under FILES_ROUTE; None for a file outside the outputs folder (never served)."""
    folder = outputs.resolve()

    def link(path: str) -> str | None:
        try:
            relative = Path(path).resolve().relative_to(folder)
        except ValueError:
            return None
        return f"{base_url.rstrip('/')}{FILES_ROUTE}{quote(relative.as_posix())}"

    return link


def output_file(outputs: Path, relative: str) -> Path | None:
    """The file a FILES_ROUTE URL names, if it is a file inside the outputs folder."""
    folder = outputs.resolve()
    target = (folder / relative).resolve()
    return target if target.is_relative_to(folder) and target.is_file() else None


def appendix(content: str, metadata: dict[str, Any], link: Link) -> str:
    """What follows the workflow's text: its images as Markdown links, then its Sources list
    (unless the text already links one of its sources: the workflow wrote its own)."""
    parts = []
    for image in metadata.get("images") or []:
        url = link(str(image.get("path", "")))
        if url:
            alt = " ".join(str(image.get("caption") or "image").split()).replace("[", "(").replace("]", ")")
            parts.append(f"![{alt}]({url})")
    sources = [s for s in metadata.get("sources") or [] if isinstance(s, dict)]
    urls = [str(s["url"]) for s in sources if s.get("url")]
    if sources and not any(url in content or safe_url(url) in content for url in urls):
        refs = [
            SourceRef(int(s.get("index", i + 1)), str(s.get("title") or ""), str(s.get("url") or ""))
            for i, s in enumerate(sources)
        ]
        parts.append(sources_section(refs, [r.index for r in refs]))
    return "".join(f"\n\n{part}" for part in parts if part)


class TurnFailed(Exception):
    """The turn gave no usable answer; the message is for the user."""


def answer_once(ctx: AppContext, personality_id: str, message: str) -> Done:
    """One message to a personality in a one-off discussion (not stored), through the runner."""
    try:
        personality = ctx.zoo.get(personality_id)
    except PersonalityError as e:
        raise TurnFailed(str(e)) from e
    session = ctx.new_session()
    session.new_discussion(personality)
    for event in ctx.runner.run_turn(session, message):
        if isinstance(event, ErrorOut):
            raise TurnFailed(event.message)
        if isinstance(event, Done):
            return event
    raise TurnFailed("The personality gave no answer.")


@dataclass(frozen=True)
class Painting:
    text: str  # the answer (prompt used, facts) with its image links
    images: list[Path]


def paint(ctx: AppContext, description: str, link: Link, personality_id: str = ART_PERSONALITY) -> Painting:
    """The art personality's workflow for `description`; TurnFailed when it paints nothing (e.g.
    no Stable Diffusion model: its message says where to put one)."""
    done = answer_once(ctx, personality_id, description)
    paths = [Path(str(image.get("path", ""))) for image in done.metadata.get("images") or []]
    images = [path for path in paths if path.is_file()]
    if not images:
        raise TurnFailed(f"{personality_id} painted no image: {done.content}")
    return Painting(done.content + appendix(done.content, done.metadata, link), images)


def search_answer(ctx: AppContext, question: str, personality_id: str = WEB_PERSONALITY) -> tuple[str, str]:
    """The web personality's answer (ending with its Sources list) and its sources as JSON;
    TurnFailed when the web gave nothing to answer from (offline, no results...)."""
    done = answer_once(ctx, personality_id, question)
    failure = (done.metadata.get("workflow_data") or {}).get("web_failure")
    if failure:
        raise TurnFailed(f"Web search failed ({failure}): {done.content}")
    keys = ("index", "title", "url", "passage", "cited")
    sources = [{k: s[k] for k in keys if k in s} for s in done.metadata.get("sources") or []]
    return done.content, json.dumps(sources, ensure_ascii=False)
