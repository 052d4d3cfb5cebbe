"""An OpenAI-compatible HTTP API on the app's own server: every personality is a "model".

`GET /v1/models` lists the usable personalities (id = "<language>/<category>/<name>");
`POST /v1/chat/completions` answers in character through the same WorkflowRunner as the UI, so a
personality's conditioning, prefixes, anti-prompts and sampling apply. Request sampling values
(temperature, top_p, top_k, max_tokens, seed) override the personality's, like the Settings
override; `stop` adds stop strings. Scripted personalities return their final answer, followed by
their images as Markdown links to `GET /v1/files/...` and their sources (api/answers.py); their
steps never enter `content`: they come as a side channel, a `steps` list of step records on the
completion and on stream chunks (the latest record per id is the step's state). Who may call any
of these: api/access.py.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from gradio_app.api.access import REFUSAL, ApiAccess
from gradio_app.api.answers import FILES_ROUTE, Link, appendix, file_link, output_file, root_url
from gradio_app.context import AppContext
from gradio_app.generation.params import GenerationParams, InvalidParams
from gradio_app.generation.stops import StopDetector
from gradio_app.personalities.schema import PersonalityError
from gradio_app.session import ChatSession, Message
from gradio_app.workflows.events import Done, ErrorOut, Event, Notice, StepEnd, StepStart, StepTitle, TextChunk
from gradio_app.workflows.transcript import Transcript, append_only


class ChatMessageIn(BaseModel):
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model: str
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "code": self.code, "param": None}}
        return JSONResponse(body, status_code=self.status)


@dataclass
class PreparedChat:
    session: ChatSession
    prompt: str
    stops: list[str]


def prepare_chat(ctx: AppContext, request: ChatRequest) -> PreparedChat:
    """Turn an OpenAI request into a one-off ChatSession (history + override) and the new prompt."""
    try:
        personality = ctx.zoo.get(request.model)
    except PersonalityError as e:
        raise ApiError(404, f"The model '{request.model}' does not exist: {e.reason}", "model_not_found") from e
    turns = [m for m in request.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise ApiError(400, "The last message must come from the user.", "invalid_messages")
    session = ChatSession(personality_id=personality.id, prompt_format=ctx.settings.prompt_format)
    session.new_discussion(personality)
    session.messages = [Message(m.role, m.text()) for m in turns[:-1]]  # type: ignore[arg-type]
    wanted = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": request.top_k,
        "n_predict": request.max_completion_tokens or request.max_tokens,
        "seed": request.seed,
    }
    if any(v is not None for v in wanted.values()):
        base = ctx.runner.params_for(session, personality)
        try:
            session.user_params = GenerationParams.from_dict(wanted, base)
        except InvalidParams as e:
            raise ApiError(400, str(e), "invalid_parameter") from e
        session.override = True
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    return PreparedChat(session, turns[-1].text(), stops)


def answer_events(ctx: AppContext, chat: PreparedChat) -> Iterator[Event]:
    """The runner's events with the request's own stop strings applied (cancelling the model)."""
    detector = StopDetector(chat.stops)
    emitted: list[str] = []
    for event in append_only(ctx.runner.run_turn(chat.session, chat.prompt)):
        if isinstance(event, TextChunk):
            safe = detector.feed(event.text)
            if safe:
                emitted.append(safe)
                yield TextChunk(safe)
            if detector.stopped:
                chat.session.cancel.set()
        elif isinstance(event, Done):
            tail = detector.flush()
            if tail:
                yield TextChunk(tail)
            if detector.stopped:
                yield Done("".join(emitted).strip(), {**event.metadata, "stop_reason": "stop_string"})
            else:
                yield event
        else:
            yield event


def finish_reason(metadata: dict[str, Any]) -> str:
    return "length" if metadata.get("stop_reason") in ("length", "context") else "stop"


def usage(metadata: dict[str, Any]) -> dict[str, int]:
    prompt, completion = int(metadata.get("prompt_tokens", 0)), int(metadata.get("completion_tokens", 0))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _first_answer_event(events: Iterator[Event]) -> list[Event]:
    """Read ahead to the first text, step or the end, so errors become HTTP errors, not broken streams."""
    seen: list[Event] = []
    for event in events:
        if isinstance(event, ErrorOut):
            raise ApiError(400, event.message, "generation_failed", "server_error")
        seen.append(event)
        if isinstance(event, (TextChunk, Done, StepStart, Notice)):
            break
    return seen


class StepFeed:
    """The steps side channel of a stream: a step's record (the stored shape, workflows/transcript.py)
    when it starts, ends or is renamed, then at the end every record that changed since it was sent,
    so the latest record per id equals the non-streaming `steps`."""

    def __init__(self) -> None:
        self._transcript = Transcript()
        self._sent: dict[str, dict[str, Any]] = {}

    def feed(self, event: Event) -> list[dict[str, Any]]:
        self._transcript.apply(event)
        steps = self._transcript.steps
        if isinstance(event, (StepStart, StepEnd, StepTitle)):
            return self._changed([steps[event.step_id]] if event.step_id in steps else [])
        if isinstance(event, Notice):
            return self._changed([steps[next(reversed(steps))]])
        return []

    def finish(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._changed(records)

    def _changed(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = [copy.deepcopy(r) for r in records if self._sent.get(r["id"]) != r]
        self._sent.update((r["id"], r) for r in copy.deepcopy(out))
        return out


def register_openai_api(app: FastAPI, ctx: AppContext, access: ApiAccess | None = None) -> None:
    """Add /v1/models and /v1/chat/completions to the app's FastAPI server (who may call them:
    `access`, see api/access.py; None = open)."""
    access = access or ApiAccess()

    def authorized(request: Request) -> bool:
        return access.allows(request.headers.get("authorization"))

    def refuse() -> JSONResponse:
        return ApiError(401, REFUSAL, "invalid_api_key", "authentication_error").response()

    def list_models(request: Request) -> Any:
        if not authorized(request):
            return refuse()
        data = [
            {"id": entry.id, "object": "model", "created": 0, "owned_by": entry.personality.config.author or "local"}
            for entry in sorted(ctx.zoo.entries.values(), key=lambda e: e.id)
            if entry.personality is not None
        ]
        return {"object": "list", "data": data}

    def link_for(request: Request) -> Link:
        return file_link(ctx.paths.outputs, root_url(request))

    def get_file(request: Request, path: str) -> Any:
        if not authorized(request):
            return refuse()
        found = output_file(ctx.paths.outputs, path)
        if found is None:
            return ApiError(404, "No such file.", "file_not_found").response()
        return FileResponse(found)

    def chat_completions(request: Request, body: dict[str, Any]) -> Any:
        if not authorized(request):
            return refuse()
        try:
            chat_request = ChatRequest.model_validate(body)
            chat = prepare_chat(ctx, chat_request)
            events = answer_events(ctx, chat)
            head = _first_answer_event(events)
        except ValidationError as e:
            return ApiError(400, f"Invalid request: {e.errors()[0]['msg']}", "invalid_request").response()
        except ApiError as e:
            return e.response()
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if chat_request.stream:
            link = link_for(request)
            stream = _sse(completion_id, created, chat_request.model, head, events, chat.session.cancel, link)
            return StreamingResponse(stream, media_type="text/event-stream")
        done = next((e for e in [*head, *events] if isinstance(e, (Done, ErrorOut))), None)
        if isinstance(done, ErrorOut) or done is None:
            message = done.message if isinstance(done, ErrorOut) else "no answer"
            return ApiError(500, message, "generation_failed", "server_error").response()
        content = done.content + appendix(done.content, done.metadata, link_for(request))
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": chat_request.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason(done.metadata),
                }
            ],
            "usage": usage(done.metadata),
            "steps": done.metadata.get("steps") or [],
        }

    app.add_api_route("/v1/models", list_models, methods=["GET"])
    app.add_api_route("/v1/chat/completions", chat_completions, methods=["POST"])
    app.add_api_route(FILES_ROUTE + "{path:path}", get_file, methods=["GET"])


def _sse(
    completion_id: str,
    created: int,
    model: str,
    head: list[Event],
    rest: Iterator[Event],
    cancel: threading.Event,
    link: Link,
) -> Iterator[str]:
    def chunk(delta: dict[str, str], finish: str | None = None, extra: dict[str, Any] | None = None) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **(extra or {}),
        }
        return f"data: {json.dumps(payload)}\n\n"

    steps = StepFeed()
    sent = ""
    yield chunk({"role": "assistant"})
    try:
        for event in [*head, *rest]:
            changed = steps.feed(event)
            if changed:
                yield chunk({}, extra={"steps": changed})
            if isinstance(event, TextChunk):
                sent += event.text
                yield chunk({"content": event.text})
            elif isinstance(event, Done):
                changed = steps.finish(event.metadata.get("steps") or [])
                if changed:
                    yield chunk({}, extra={"steps": changed})
                if not event.content.startswith(sent.strip()):
                    # the workflow rewrote text already sent (Processor.full): a stream cannot take
                    # it back, so the final answer follows it in full
                    yield chunk({"content": f"\n\n{event.content}"})
                tail = appendix(event.content, event.metadata, link)
                if tail:
                    yield chunk({"content": tail})
                yield chunk({}, finish_reason(event.metadata), {"usage": usage(event.metadata)})
            elif isinstance(event, ErrorOut):
                yield f"data: {json.dumps({'error': {'message': event.message, 'type': 'server_error'}})}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        cancel.set()  # the client went away: stop generating for it
