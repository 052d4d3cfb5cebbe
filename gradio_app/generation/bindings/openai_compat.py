"""A model served by an OpenAI-compatible server: llama.cpp's server, llama-cpp-python's server,
vLLM, Ollama, TGI.

We send the prompt our PromptBuilder rendered to `POST /v1/completions` (not the chat endpoint),
so a personality's conditioning, prefixes and anti-prompts reach the model exactly as they do
in-process, and GenerationService's stop detector sees the same stream. What the OpenAI API
does not standardize (a tokenizer, the context size, the chat template) we ask of each server in
its own dialect, detected once at connection time; where a server cannot tell, a setting or a
conservative estimate stands in, and the model facts say so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from gradio_app.generation.bindings.base import GenerationError, ModelInfo, ModelLoadError, StreamStats
from gradio_app.generation.params import GenerationParams

log = logging.getLogger(__name__)

# Probing a server should not make the user wait long for what it does not have.
_PROBE_TIMEOUT_S = 5.0
_TOKEN_CACHE_SIZE = 256


@dataclass(frozen=True)
class ServerOptions:
    base_url: str  # the OpenAI API root, e.g. http://127.0.0.1:8080/v1
    api_key: str = ""
    model: str = ""  # "" = the first model the server lists
    timeout_s: float = 120.0
    n_ctx: int = 4096  # used when the server does not report its context size


@dataclass(frozen=True)
class Dialect:
    """What a kind of server understands beyond the OpenAI fields (temperature, top_p, seed...)."""

    name: str
    extra_sampling: frozenset[str] = frozenset()
    tokenize_path: str | None = None  # relative to the server root (not /v1)
    detokenize_path: str | None = None
    always_adds_bos: bool = False  # its tokenize endpoint adds BOS whatever we ask


LLAMA_CPP_SERVER = Dialect(
    "llama.cpp server",
    frozenset({"top_k", "min_p", "typical_p", "repeat_penalty", "repeat_last_n"}),
    "/tokenize",
    "/detokenize",
)
LLAMA_CPP_PYTHON = Dialect(
    "llama-cpp-python server",
    frozenset({"top_k", "min_p", "repeat_penalty"}),
    "/extras/tokenize",
    "/extras/detokenize",
    always_adds_bos=True,
)
VLLM = Dialect("vLLM", frozenset({"top_k", "min_p", "repetition_penalty"}), "/tokenize", "/detokenize")
TGI = Dialect("Text Generation Inference", frozenset(), "/tokenize", always_adds_bos=True)
OLLAMA = Dialect("Ollama")
GENERIC = Dialect("OpenAI-compatible server", frozenset({"top_k", "repeat_penalty"}))


_PRE_TOKENS = re.compile(r" ?[A-Za-z]+| ?[0-9]|\s+|[^\sA-Za-z0-9]")


def estimate_tokens(text: str) -> int:
    """A count that errs on the high side, for servers that cannot tokenize for us.

    Split roughly as BPE tokenizers pre-tokenize (a word with its leading space, each digit, each
    symbol, whitespace runs), charge long and mixed-case words extra, non-ASCII characters by
    their UTF-8 length, then add 10%. Measured against a small English-centric vocabulary
    (SmolLM2) it overestimates English prose by ~1.7x and code by ~1.3x; random strings (base64,
    hashes) can still exceed it, and then the server's own context error is shown.
    """
    count = 1  # BOS
    for match in _PRE_TOKENS.finditer(text):
        piece = match.group()
        word = piece.lstrip(" ")
        if word[:1].isascii() and word[:1].isalpha():
            plain = word.islower() or len(word) == 1 or (word[0].isupper() and word[1:].islower())
            count += 1 + (len(word) - 1) // 3 if plain else math.ceil(len(word) / 2)
        elif piece.isspace():
            count += 1 + (len(piece) - 1) // 4
        elif piece.isascii():
            count += 1
        else:
            count += math.ceil(len(piece.encode("utf-8")) / 2)
    return math.ceil(count * 1.1)


@dataclass
class _Probe:
    dialect: Dialect = GENERIC
    n_ctx: int | None = None
    n_ctx_train: int | None = None
    chat_template: str | None = None
    bos_token: str = ""
    eos_token: str = ""
    size_bytes: int = 0
    facts: dict[str, str] = field(default_factory=dict)


def completion_request(
    dialect: Dialect,
    model: str,
    prompt: str,
    params: GenerationParams,
    max_tokens: int,
    seed: int,
    stops: list[str],
) -> dict[str, Any]:
    """The /v1/completions request: the OpenAI fields, plus the sampling extensions this kind of
    server understands (others would be ignored at best, refused at worst)."""
    body: dict[str, Any] = {
        "model": model,
        "prompt": prompt,
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "seed": seed,
    }
    if stops:
        body["stop"] = stops
    extensions: dict[str, Any] = {
        "top_k": params.top_k if params.top_k > 0 or dialect is not VLLM else -1,  # vLLM: -1 = off
        "min_p": 0.0,  # only the samplers the user sees, as in-process
        "typical_p": 1.0,
        "repeat_penalty": params.repeat_penalty,
        "repeat_last_n": params.repeat_last_n,
        "repetition_penalty": params.repeat_penalty,
    }
    body.update({k: v for k, v in extensions.items() if k in dialect.extra_sampling})
    if dialect in (VLLM, OLLAMA):
        body["stream_options"] = {"include_usage": True}
    return body


class OpenAICompatBinding:
    """A connection to one model on one server. GenerationService serializes `stream` calls;
    token counting may run concurrently with them (httpx.Client is thread-safe)."""

    name = "openai"

    def __init__(self, options: ServerOptions, transport: httpx.BaseTransport | None = None) -> None:
        self.options = options
        self.base_url = options.base_url.rstrip("/")
        self.root_url = self.base_url.removesuffix("/v1")
        headers = {"Accept": "application/json"}
        if options.api_key:
            headers["Authorization"] = f"Bearer {options.api_key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(options.timeout_s, connect=min(options.timeout_s, 10.0)),
            transport=transport,
        )
        self._token_cache: OrderedDict[tuple[str, bool], int] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._bos_count = 0
        try:
            self.model, listed = self._pick_model()
            probe = self._probe(listed)
            self.dialect = probe.dialect
            exact = self._check_tokenizer()
        except ModelLoadError:
            self._client.close()
            raise
        n_ctx = probe.n_ctx or options.n_ctx
        metadata = {
            "server": self.dialect.name,
            "server.url": self.base_url,
            "n_ctx_source": "server" if probe.n_ctx else "setting binding.n_ctx (the server does not report it)",
            **probe.facts,
        }
        self.info = ModelInfo(
            name=_display_name(self.model),
            path="",
            size_bytes=probe.size_bytes,
            n_ctx=n_ctx,
            n_ctx_train=probe.n_ctx_train or n_ctx,
            chat_template=probe.chat_template,
            bos_token=probe.bos_token,
            eos_token=probe.eos_token,
            adds_bos=self._bos_count > 0,
            binding=self.name,
            metadata=metadata,
            exact_token_counts=exact,
            source=self.base_url,
        )
        log.info("connected to %s (%s, model %s, n_ctx=%d)", self.base_url, self.dialect.name, self.model, n_ctx)

    # -- connecting ------------------------------------------------------------------------------
    def _pick_model(self) -> tuple[str, list[dict[str, Any]]]:
        url = f"{self.base_url}/models"
        try:
            response = self._client.get(url, timeout=min(self.options.timeout_s, 30.0))
        except httpx.ConnectError as e:
            raise ModelLoadError(
                f"Cannot connect to the server at {self.base_url} ({_reason(e)}). Is it running, and is the URL right?"
            ) from e
        except httpx.TimeoutException as e:
            raise ModelLoadError(f"The server at {self.base_url} did not answer in time ({_reason(e)}).") from e
        except httpx.HTTPError as e:
            raise ModelLoadError(f"Talking to the server at {self.base_url} failed: {_reason(e)}") from e
        if response.status_code in (401, 403):
            raise ModelLoadError(
                f"The server at {self.base_url} refused the API key (HTTP {response.status_code}). "
                "Check the key in Settings → Binding."
            )
        if response.status_code != 200:
            raise ModelLoadError(
                f"{url} answered HTTP {response.status_code} ({_error_text(response)}): is this the server's "
                "OpenAI API root (usually ending in /v1)?"
            )
        try:
            data = response.json().get("data", [])
            listed = [m for m in data if isinstance(m, dict) and m.get("id")]
        except (ValueError, AttributeError) as e:
            raise ModelLoadError(f"{url} did not answer with an OpenAI model list.") from e
        ids = [str(m["id"]) for m in listed]
        if self.options.model:
            if ids and self.options.model not in ids:
                raise ModelLoadError(
                    f"The server at {self.base_url} has no model '{self.options.model}'; it offers: {', '.join(ids)}."
                )
            return self.options.model, listed
        if not ids:
            raise ModelLoadError(f"The server at {self.base_url} lists no model.")
        return ids[0], listed

    def _get_json(self, path: str) -> Any | None:
        """GET root+path while probing: the JSON body, or None when the server has no such thing."""
        try:
            response = self._client.get(f"{self.root_url}{path}", timeout=_PROBE_TIMEOUT_S)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def _probe(self, listed: list[dict[str, Any]]) -> _Probe:
        """Which server this is, and what it tells about the model."""
        entry = next((m for m in listed if m.get("id") == self.model), listed[0] if listed else {})
        props = self._get_json("/props")
        if isinstance(props, dict) and ("default_generation_settings" in props or "chat_template" in props):
            settings = props.get("default_generation_settings") or {}
            meta = entry.get("meta") or {}
            return _Probe(
                LLAMA_CPP_SERVER,
                n_ctx=_int(settings.get("n_ctx")) or _int(props.get("n_ctx")),
                n_ctx_train=_int(meta.get("n_ctx_train")),
                chat_template=props.get("chat_template") or None,
                bos_token=str(props.get("bos_token") or ""),
                eos_token=str(props.get("eos_token") or ""),
                size_bytes=_int(meta.get("size")) or 0,
                facts={"general.parameters": str(meta["n_params"])} if meta.get("n_params") else {},
            )
        if "max_model_len" in entry or entry.get("owned_by") == "vllm":
            return _Probe(VLLM, n_ctx=_int(entry.get("max_model_len")))
        version = self._get_json("/api/version")
        if isinstance(version, dict) and "version" in version:
            return _Probe(OLLAMA, facts={"server.version": str(version["version"])})
        info = self._get_json("/info")
        if isinstance(info, dict) and "max_total_tokens" in info:
            facts = {"server.model_id": str(info.get("model_id"))}
            return _Probe(TGI, n_ctx=_int(info.get("max_total_tokens")), facts=facts)
        if self._try_tokenize(LLAMA_CPP_PYTHON, "a") is not None:
            return _Probe(LLAMA_CPP_PYTHON)
        return _Probe(GENERIC)

    def _check_tokenizer(self) -> bool:
        """True when the server tokenizes for us (else counts are estimated). Learns the BOS count."""
        if self.dialect.tokenize_path is None:
            return False
        with_bos = self._try_tokenize(self.dialect, "", add_bos=True)
        without = [] if self.dialect.always_adds_bos else self._try_tokenize(self.dialect, "", add_bos=False)
        if with_bos is None or without is None:
            log.warning("%s: its tokenize endpoint failed; token counts are estimated", self.base_url)
            return False
        self._bos_count = max(0, len(with_bos) - len(without))
        return True

    # -- tokens ----------------------------------------------------------------------------------
    def _tokenize_body(self, dialect: Dialect, text: str, add_bos: bool) -> dict[str, Any]:
        if dialect is LLAMA_CPP_SERVER:
            return {"content": text, "add_special": add_bos}
        if dialect is VLLM:
            return {"model": self.model, "prompt": text, "add_special_tokens": add_bos}
        if dialect is TGI:
            return {"inputs": text}
        return {"input": text, "model": self.model}

    def _try_tokenize(self, dialect: Dialect, text: str, add_bos: bool = True) -> list[int] | None:
        """Token ids as the server produces them, or None when it cannot tokenize."""
        if dialect.tokenize_path is None:
            return None
        try:
            response = self._client.post(
                f"{self.root_url}{dialect.tokenize_path}",
                json=self._tokenize_body(dialect, text, add_bos),
                timeout=_PROBE_TIMEOUT_S,
            )
            data = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        tokens = data if isinstance(data, list) else data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list):
            return None
        ids = [t.get("id") if isinstance(t, dict) else t for t in tokens]
        if not all(isinstance(t, int) for t in ids):
            return None
        if dialect.always_adds_bos and not add_bos and self._bos_count:
            ids = ids[self._bos_count :]
        return ids

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        ids = self._try_tokenize(self.dialect, text, add_bos) if self.info.exact_token_counts else None
        if ids is None:
            raise GenerationError(f"The {self.dialect.name} at {self.base_url} cannot tokenize text for us.")
        return ids

    def detokenize(self, tokens: list[int]) -> str:
        if self.dialect.detokenize_path is None:
            raise GenerationError(f"The {self.dialect.name} at {self.base_url} cannot detokenize for us.")
        body: dict[str, Any] = {"tokens": tokens}
        if self.dialect is VLLM:
            body["model"] = self.model
        try:
            response = self._client.post(f"{self.root_url}{self.dialect.detokenize_path}", json=body)
            data = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise GenerationError(f"Detokenizing on {self.base_url} failed: {_reason(e)}") from e
        return str(data.get("content") or data.get("prompt") or data.get("text") or "")

    def count_tokens(self, text: str, *, add_bos: bool = False) -> int:
        """Exact when the server tokenizes, else estimated high. Cached: the prompt builder counts
        the same conditioning and history several times per turn."""
        key = (text, add_bos)
        with self._cache_lock:
            if key in self._token_cache:
                self._token_cache.move_to_end(key)
                return self._token_cache[key]
        if self.info.exact_token_counts:
            ids = self._try_tokenize(self.dialect, text, add_bos)
            if ids is None:
                raise GenerationError(
                    f"The server at {self.base_url} did not answer a token count request. Is it still running?"
                )
            count = len(ids)
        else:
            count = estimate_tokens(text)
        with self._cache_lock:
            self._token_cache[key] = count
            while len(self._token_cache) > _TOKEN_CACHE_SIZE:
                self._token_cache.popitem(last=False)
        return count

    # -- generation ------------------------------------------------------------------------------
    def stream(
        self,
        prompt: str,
        params: GenerationParams,
        *,
        max_tokens: int,
        seed: int,
        stops: list[str],
        cancel: threading.Event,
        stats: StreamStats,
    ) -> Iterator[str]:
        n_prompt = self.count_tokens(prompt, add_bos=True)
        stats.prompt_tokens, stats.seed = n_prompt, seed
        if n_prompt + 1 > self.info.n_ctx:
            raise GenerationError(f"The prompt is {n_prompt} tokens but the model's context holds {self.info.n_ctx}.")
        allowed = min(max_tokens, self.info.n_ctx - n_prompt)
        body = completion_request(self.dialect, self.model, prompt, params, allowed, seed, stops)
        stats.stop_reason = "length"
        usage: dict[str, Any] = {}
        try:
            with self._client.stream("POST", f"{self.base_url}/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise GenerationError(
                        f"The server refused the request (HTTP {response.status_code}): {_error_text(response)}"
                    )
                with _CloseOnCancel(response, cancel):
                    for event in _sse_data(response.iter_lines()):
                        if event == "[DONE]":
                            break
                        chunk = _json_chunk(event)
                        if "error" in chunk:
                            raise GenerationError(f"The server failed mid-answer: {_error_message(chunk)}")
                        for choice in chunk.get("choices") or []:
                            text = choice.get("text") or ""
                            if text:
                                # llama.cpp servers send one token per event; a usage report,
                                # when the server sends one, corrects the count at the end.
                                stats.completion_tokens += 1
                                yield text
                            if choice.get("finish_reason"):
                                stats.stop_reason = _stop_reason(choice, stops, allowed, params)
                        if isinstance(chunk.get("usage"), dict):
                            usage = chunk["usage"]
                        if cancel.is_set():
                            stats.stop_reason = "cancelled"
                            return
        except httpx.TimeoutException as e:
            raise GenerationError(
                f"The server at {self.base_url} sent nothing for {self.options.timeout_s:g} s, so the answer was "
                "abandoned. Slow server? Raise binding.timeout_s."
            ) from e
        except httpx.ConnectError as e:
            raise GenerationError(
                f"Cannot connect to the server at {self.base_url} ({_reason(e)}). Is it still running? Restart "
                "it, or switch back to the in-process model in Settings → Binding."
            ) from e
        except httpx.HTTPError as e:
            if cancel.is_set():  # Stop shut the stream under the reader: not a failure
                stats.stop_reason = "cancelled"
                return
            raise GenerationError(
                f"The connection to the server at {self.base_url} broke mid-answer ({_reason(e)}): the server "
                "may have stopped or crashed."
            ) from e
        stats.prompt_tokens = _int(usage.get("prompt_tokens")) or stats.prompt_tokens
        stats.completion_tokens = _int(usage.get("completion_tokens")) or stats.completion_tokens

    def close(self) -> None:
        self._client.close()


class _CloseOnCancel:
    """Stop must end a generation even while the server is silent (evaluating a long prompt):
    a watcher shuts the socket down the moment `cancel` is set, which wakes the blocked read;
    the server sees the disconnect and stops generating."""

    def __init__(self, response: httpx.Response, cancel: threading.Event) -> None:
        self._response, self._cancel = response, cancel
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="openai-stream-cancel", daemon=True)

    def __enter__(self) -> _CloseOnCancel:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=1)

    def _watch(self) -> None:
        while not self._done.is_set():
            if self._cancel.wait(0.1):
                if not self._done.is_set():
                    _shutdown(self._response)
                return


def _shutdown(response: httpx.Response) -> None:
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed: nothing left to wake
            sock.shutdown(socket.SHUT_RDWR)


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The `data:` payloads of a server-sent event stream (multi-line data joined)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue  # a comment: keep-alive ping
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


def _json_chunk(event: str) -> dict[str, Any]:
    try:
        chunk = json.loads(event)
    except ValueError as e:
        raise GenerationError(f"The server sent something that is not an OpenAI stream: {event[:200]!r}") from e
    if not isinstance(chunk, dict):
        raise GenerationError(f"The server sent an unexpected stream event: {event[:200]!r}")
    return chunk


def _stop_reason(choice: dict[str, Any], stops: list[str], allowed: int, params: GenerationParams) -> str:
    finish, matched = choice.get("finish_reason"), choice.get("stop_reason")
    if finish == "length":
        return "length" if allowed == params.n_predict else "context"
    if finish == "stop" and isinstance(matched, str) and matched in stops:
        return "stop_string"  # vLLM says which stop string ended the answer
    if finish == "stop" and stops:
        return "stop"  # EOS or one of our stop strings: the OpenAI protocol does not say which
    return "eos"


def _display_name(model_id: str) -> str:
    """llama-cpp-python names a model by its file path; show the file name."""
    if model_id.lower().endswith(".gguf"):
        return model_id.replace("\\", "/").rsplit("/", 1)[-1]
    return model_id


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _reason(error: Exception) -> str:
    text = str(error).strip()
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    return text or type(error).__name__


def _error_message(data: Any) -> str:
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            return str(error.get("message") or error)
        if isinstance(error, list) and error and isinstance(error[0], dict):
            return str(error[0].get("msg") or error[0])
        if error:
            return str(error)
    return str(data)[:300]


def _error_text(response: httpx.Response) -> str:
    try:
        return _error_message(response.json())
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
