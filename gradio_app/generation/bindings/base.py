"""What every model backend offers the rest of the app (in-process llama.cpp, a remote server...)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from gradio_app.generation.params import GenerationParams
from gradio_app.generation.state_cache import DEFAULT_STATE_CACHE_BYTES


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message is meant for the user as-is."""


class GenerationError(RuntimeError):
    """Generation failed for a reason the user should see (prompt too long, backend error)."""


class ModelNotLoaded(GenerationError):
    """No model is loaded, or the binding asked was closed (the message says why)."""


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model. threads=None means every core (llama-cpp-python would use half).

    state_cache_bytes bounds the saved per-discussion model states (see generation/state_cache.py);
    0 turns the cache off.
    """

    n_ctx: int = 4096
    n_threads: int | None = None
    n_batch: int = 512
    n_gpu_layers: int = 0
    state_cache_bytes: int = DEFAULT_STATE_CACHE_BYTES


@dataclass(frozen=True)
class ModelInfo:
    """Facts about the loaded model, for the UI and the discussion metadata."""

    name: str
    path: str
    size_bytes: int
    n_ctx: int
    n_ctx_train: int
    chat_template: str | None
    bos_token: str
    eos_token: str
    adds_bos: bool  # the tokenizer prepends BOS itself (so a template's literal BOS must go)
    binding: str
    metadata: dict[str, str] = field(default_factory=dict)
    # False: token counts are a conservative estimate (a server without a tokenize endpoint),
    # so the prompt budget keeps a safety margin; True: the model's own tokenizer counts.
    exact_token_counts: bool = True
    source: str = ""  # where the model runs: a file path, or a server URL
    # The model file's SHA-256 prefix (model_files.HASH_PREFIX_LEN hex digits), filled in by
    # GenerationService once hashed in the background; "" until then, and for a server's model.
    file_sha256: str = ""

    @property
    def file_name(self) -> str:
        """The model file's name; "" for a server's model (known by the name the server gives it)."""
        return Path(self.path).name if self.path else ""


@dataclass
class StreamStats:
    """Filled in by a binding while it streams: what was evaluated and why it ended."""

    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens found already evaluated (KV cache), not re-evaluated
    completion_tokens: int = 0
    # "eos" | "length" | "cancelled" | "stop_string" | "context" | "stop" (a server ended the answer
    # at EOS or at one of our stop strings; the OpenAI protocol does not say which)
    stop_reason: str = ""
    seed: int = -1


@runtime_checkable
class Binding(Protocol):
    """A loaded model. Not thread-safe: GenerationService is its single owner."""

    info: ModelInfo

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]: ...

    def detokenize(self, tokens: list[int]) -> str: ...

    def count_tokens(self, text: str, *, add_bos: bool = False) -> int:
        """Tokens `text` takes; add_bos=True counts as a prompt is counted (BOS included)."""
        ...

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
        cache_key: str | None = None,
    ) -> Iterator[str]:
        """Yield decoded text pieces until EOS, `max_tokens`, or `cancel` is set.

        GenerationService scans the pieces for `stops` itself and closes the iterator at the first
        hit, so every binding shows the same hold-back behaviour; a remote binding may also pass
        `stops` to its server to save the tokens after the hit.

        `cache_key` names the conversation the prompt continues (the discussion id), so a binding
        that keeps evaluated state can keep one per conversation; None = no particular one. A
        binding without such state ignores it.
        """
        ...

    def close(self) -> None: ...
