"""GenerationService: the single owner of the loaded model.

A llama.cpp model is not thread-safe and Gradio runs event handlers concurrently (its concurrency
limit is per handler, so two different handlers can reach the model at once). Every use of the
model therefore goes through one fair queue here: requests are served in arrival order, a waiting
request can see its position and can be cancelled, and Stop ends a running generation within one
token.

Token counting skips that queue (it reads only the vocabulary, and a prompt is counted while another
answer streams), so it must not outlive the binding it uses: each call holds a lease on the binding,
and a binding swapped out by connect()/unload() is closed only when its last lease ends.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gradio_app.generation.bindings.base import (
    Binding,
    LoadOptions,
    ModelInfo,
    ModelLoadError,
    ModelNotLoaded,
    StreamStats,
)
from gradio_app.generation.model_files import HASH_PREFIX_LEN, MODEL_HASHES, FileHashes
from gradio_app.generation.params import GenerationParams
from gradio_app.generation.stops import StopDetector

log = logging.getLogger(__name__)

# How often a waiting request wakes up to report its queue position or notice a cancel.
_WAIT_POLL_S = 0.25


def _accepts_cache_key(binding: Binding) -> bool:
    """Bindings written before `cache_key` joined the protocol keep working (they just get none)."""
    stream = getattr(binding, "stream", None)
    if stream is None:
        return False
    try:
        parameters = inspect.signature(stream).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "cache_key" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


# Facts about the model file, recorded only when known (a server's model has none).
_FILE_FACTS = ("model_file", "model_size_bytes", "model_sha256")


def model_facts(info: ModelInfo | None) -> dict[str, Any]:
    """How a stored answer names its model: name and binding, plus for a model file its name, size
    and SHA-256 prefix (the hash only once computed in the background). A server's model is named
    by the server alone: the file behind it is not ours to see, so no file or hash is recorded."""
    if info is None:
        return {"model": "", "binding": ""}
    facts = {
        "model": info.name,
        "binding": info.binding,
        "model_file": info.file_name,
        "model_size_bytes": info.size_bytes if info.file_name else 0,
        "model_sha256": info.file_sha256,
    }
    return {k: v for k, v in facts.items() if v or k not in _FILE_FACTS}


class FairQueue:
    """A FIFO lock: holders are served in the order they asked, and waiters know their place."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[object] = deque()
        self._busy = False

    def enter(self, ticket: object) -> None:
        with self._cond:
            self._waiting.append(ticket)

    def try_acquire(self, ticket: object, timeout: float | None) -> bool:
        """Wait up to `timeout` for `ticket`'s turn (it must have entered); True once it holds."""
        with self._cond:
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._busy or not self._waiting or self._waiting[0] is not ticket:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            self._waiting.popleft()
            self._busy = True
            return True

    def leave(self, ticket: object) -> None:
        """Give up a place in line (cancelled while waiting); harmless if not waiting."""
        with self._cond:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
                self._cond.notify_all()

    def position(self, ticket: object) -> int:
        """How many requests are ahead of `ticket` (including the one running); -1 if not waiting."""
        with self._cond:
            if ticket not in self._waiting:
                return -1
            return self._waiting.index(ticket) + (1 if self._busy else 0)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def release(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    @contextmanager
    def hold(self) -> Iterator[None]:
        ticket = object()
        self.enter(ticket)
        try:
            self.try_acquire(ticket, None)
        except BaseException:
            self.leave(ticket)
            raise
        try:
            yield
        finally:
            self.release()


@dataclass
class GenerationResult:
    """What one generation produced and how: stored with the message as its metadata."""

    text: str = ""
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens the model already held (its KV cache): not re-evaluated
    completion_tokens: int = 0
    stop_reason: str = ""
    stop_string: str | None = None
    seed: int = -1
    params: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    binding: str = ""
    model_file: str = ""
    model_size_bytes: int = 0
    model_sha256: str = ""
    queued_s: float = 0.0
    time_to_first_token_s: float = 0.0
    duration_s: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        gen_time = self.duration_s - self.time_to_first_token_s
        return self.completion_tokens / gen_time if gen_time > 0 and self.completion_tokens > 1 else 0.0

    def set_model(self, info: ModelInfo) -> None:
        """Record which model answered (see model_facts)."""
        facts = model_facts(info)
        self.model, self.binding = facts["model"], facts["binding"]
        self.model_file = facts.get("model_file", "")
        self.model_size_bytes = facts.get("model_size_bytes", 0)
        self.model_sha256 = facts.get("model_sha256", "")

    def to_dict(self) -> dict[str, Any]:
        data = {**asdict(self), "tokens_per_second": round(self.tokens_per_second, 2)}
        return {k: v for k, v in data.items() if v or k not in _FILE_FACTS}


class GenerationStream:
    """An answer being generated. Iterate to get text pieces as they are safe to show.

    While the request waits for the model, iteration yields "" every poll interval so a UI can
    refresh `queue_position`; consumers that only want text can skip empty pieces. Closing the
    iterator early (a closed browser tab, Stop) releases the model in the generator's `finally`.
    After iteration `result` holds the full text and the metadata.
    """

    def __init__(
        self,
        service: GenerationService,
        prompt: str,
        params: GenerationParams,
        stops: list[str],
        cancel: threading.Event | None,
        max_tokens: int | None,
        cache_key: str | None = None,
    ) -> None:
        self._service = service
        self._cache_key = cache_key
        self._prompt = prompt
        self._params = params
        self._stops = stops
        self.cancel = cancel or threading.Event()
        self._max_tokens = max_tokens
        self.queue_position = -1
        self.result = GenerationResult(params=params.to_dict())

    def __iter__(self) -> Iterator[str]:
        return self._run()

    def text(self) -> str:
        """Run to the end and return the full answer (for workflows that do not stream)."""
        for _ in self:
            pass
        return self.result.text

    def _run(self) -> Iterator[str]:
        queue, result = self._service._queue, self.result
        started = time.perf_counter()
        ticket = object()
        queue.enter(ticket)
        try:
            while not queue.try_acquire(ticket, _WAIT_POLL_S):
                if self.cancel.is_set():
                    result.stop_reason = "cancelled"
                    return
                self.queue_position = queue.position(ticket)
                yield ""
        finally:
            queue.leave(ticket)  # no-op once acquired
        self.queue_position = -1
        result.queued_s = time.perf_counter() - started
        try:
            yield from self._generate_locked()
        finally:
            queue.release()

    def _generate_locked(self) -> Iterator[str]:
        binding = self._service._require_binding()
        result, params = self.result, self._params
        result.set_model(binding.info)
        seed = params.resolved_seed()
        result.seed = seed
        detector = StopDetector(self._stops)
        stats = StreamStats()
        pieces: list[str] = []
        gen_start = time.perf_counter()
        extra = {"cache_key": self._cache_key} if _accepts_cache_key(binding) else {}
        source = binding.stream(
            self._prompt,
            params,
            max_tokens=self._max_tokens or params.n_predict,
            seed=seed,
            stops=detector.markers,
            cancel=self.cancel,
            stats=stats,
            **extra,
        )
        try:
            for piece in source:
                if not result.time_to_first_token_s:
                    result.time_to_first_token_s = time.perf_counter() - gen_start
                safe = detector.feed(piece)
                if safe:
                    pieces.append(safe)
                    yield safe
                if detector.stopped:
                    stats.stop_reason = "stop_string"
                    break
            else:
                tail = detector.flush()
                if tail:
                    pieces.append(tail)
                    yield tail
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
            result.text = "".join(pieces)
            result.prompt_tokens = stats.prompt_tokens
            result.cached_tokens = stats.cached_tokens
            result.completion_tokens = stats.completion_tokens
            result.stop_reason = stats.stop_reason or "cancelled"
            result.stop_string = detector.marker
            result.duration_s = time.perf_counter() - gen_start
            result.set_model(binding.info)  # again: the file's hash may have become known meanwhile
            log.debug("generation done: %s", result.to_dict())


class GenerationService:
    """Owns the loaded model and serializes every use of it."""

    def __init__(
        self,
        binding_factory: Callable[[str, LoadOptions], Binding] | None = None,
        hashes: FileHashes | None = None,
    ) -> None:
        """`hashes`: where model file hashes are kept (default: shared in memory by the process;
        a FileHashes with a cache file in the data folder also spares a restart the re-hash)."""
        if binding_factory is None:
            from gradio_app.generation.bindings.llama_cpp import LlamaCppBinding

            binding_factory = LlamaCppBinding
        self._factory = binding_factory
        self._queue = FairQueue()
        self._binding: Binding | None = None
        self._options = LoadOptions()
        self.load_error: str | None = None
        self.hashes = MODEL_HASHES if hashes is None else hashes
        # Guards swapping _binding against taking a lease; id(binding) -> token calls using it,
        # and the swapped-out bindings left for their last lease to close.
        self._lease_lock = threading.Lock()
        self._leases: dict[int, int] = {}
        self._retired: dict[int, Binding] = {}

    # -- model lifecycle -------------------------------------------------------------------
    def load(self, model_path: str | Path, options: LoadOptions | None = None) -> ModelInfo:
        """Load a model (waiting for any running generation). On failure the old model stays."""
        options = options or self._options
        info = self.connect(lambda: self._factory(str(model_path), options))
        self._options = options
        return info

    def connect(self, make_binding: Callable[[], Binding]) -> ModelInfo:
        """Swap in the binding `make_binding` builds (a model file, a server connection...).

        It takes its turn in the same queue as generations, so a generation in flight finishes
        (or is stopped) first and no request ever sees half a switch. On failure the old binding
        stays and `load_error` says why.
        """
        with self._queue.hold():
            try:
                new = make_binding()
            except ModelLoadError as e:
                self.load_error = str(e)
                log.error("model load failed: %s", e)
                raise
            self._swap(new)
            self.load_error = None
            self._note_file_hash(new)
            return new.info

    def unload(self) -> None:
        with self._queue.hold():
            self._swap(None)

    def _swap(self, new: Binding | None) -> None:
        """Make `new` current. The old binding is closed now, or, if a token count is still using
        it, by the end of the last such call (never under its feet: that would free the model)."""
        with self._lease_lock:
            old, self._binding = self._binding, new
            if old is None:
                return
            if self._leases.get(id(old)):
                self._retired[id(old)] = old
                return
        old.close()

    @contextmanager
    def _lease(self) -> Iterator[Binding]:
        """The current binding, kept open until the block ends (see _swap)."""
        with self._lease_lock:
            binding = self._require_binding()
            self._leases[id(binding)] = self._leases.get(id(binding), 0) + 1
        try:
            yield binding
        finally:
            with self._lease_lock:
                left = self._leases.pop(id(binding)) - 1
                if left:
                    self._leases[id(binding)] = left
                retired = None if left else self._retired.pop(id(binding), None)
            if retired is not None:
                retired.close()

    def _note_file_hash(self, binding: Binding) -> None:
        """Put the model file's hash prefix into `binding.info`: now if known, else once computed
        in the background (loads and answers never wait for a multi-GB file to be read)."""
        info = binding.info
        if not info.file_name:
            return

        def adopt(digest: str) -> None:
            binding.info = replace(binding.info, file_sha256=digest[:HASH_PREFIX_LEN])

        digest = self.hashes.request(Path(info.path), adopt)
        if digest is not None:
            adopt(digest)

    @property
    def is_loaded(self) -> bool:
        return self._binding is not None

    @property
    def info(self) -> ModelInfo | None:
        return self._binding.info if self._binding is not None else None

    @property
    def options(self) -> LoadOptions:
        return self._options

    @property
    def queue_length(self) -> int:
        return self._queue.waiting

    def _require_binding(self) -> Binding:
        if self._binding is None:
            reason = f" ({self.load_error})" if self.load_error else ""
            raise ModelNotLoaded(f"No model is loaded{reason}. Choose a model in the Settings tab.")
        return self._binding

    # -- text <-> tokens (the vocabulary is read-only: no queue, only a lease on the binding) ---
    def count_tokens(self, text: str, *, add_bos: bool = False) -> int:
        with self._lease() as binding:
            return binding.count_tokens(text, add_bos=add_bos)

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        with self._lease() as binding:
            return binding.tokenize(text, add_bos=add_bos)

    def model_info(self) -> ModelInfo:
        """The loaded model's facts, or ModelNotLoaded saying why there is none."""
        return self._require_binding().info

    # -- generation ---------------------------------------------------------------------------
    def stream(
        self,
        prompt: str,
        params: GenerationParams,
        stops: list[str] | tuple[str, ...] = (),
        *,
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        cache_key: str | None = None,
    ) -> GenerationStream:
        """Start (lazily: on first iteration) a generation that stops at any of `stops`.

        `cache_key` (a discussion id) lets the binding keep that discussion's evaluated history
        while other discussions take turns; without it the prompt still reuses whatever prefix
        the model holds.
        """
        self._require_binding()
        return GenerationStream(self, prompt, params, list(stops), cancel, max_tokens, cache_key)

    def forget(self, cache_key: str) -> None:
        """Drop what the binding keeps for `cache_key` (a deleted discussion). Harmless if none."""
        binding = self._binding
        forget = getattr(binding, "forget", None)
        if forget is not None:
            forget(cache_key)

    def generate(self, prompt: str, params: GenerationParams, stops: list[str] | tuple[str, ...] = ()) -> str:
        """Convenience for non-streaming callers (scripts, tests)."""
        return self.stream(prompt, params, stops).text()
