"""In-process GGUF model through llama-cpp-python's high-level `Llama` API."""

from __future__ import annotations

import codecs
import ctypes
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gradio_app.generation.bindings.base import (
    GenerationError,
    LoadOptions,
    ModelInfo,
    ModelLoadError,
    ModelNotLoaded,
    StreamStats,
)
from gradio_app.generation.cpu_guard import open_llama
from gradio_app.generation.params import GenerationParams
from gradio_app.generation.state_cache import StateCache

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
# llama.cpp maps the file; it still needs the weights in RAM to run at a useful speed.
_RAM_HEADROOM = 0.9


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (None where the platform does not tell)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_model_file(path: Path) -> int:
    """Refuse early, with a clear message, what llama.cpp would reject with a vague one."""
    if not path.exists():
        raise ModelLoadError(f"Model file not found: {path}")
    if not path.is_file():
        raise ModelLoadError(f"Model path is not a file: {path}")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelLoadError(f"Cannot read model file {path}: {e.strerror}") from e
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"{path.name} is not a GGUF model file (it does not start with the GGUF signature). "
            "Convert it with llama.cpp's convert scripts or download a .gguf build."
        )
    size = path.stat().st_size
    free = available_memory_bytes()
    if free is not None and size > free * _RAM_HEADROOM:
        raise ModelLoadError(
            f"{path.name} is {size / 2**30:.1f} GiB but only {free / 2**30:.1f} GiB of memory is "
            "available. Choose a smaller (more quantized) model."
        )
    return size


@dataclass(frozen=True)
class SavedState:
    """One discussion's evaluated tokens and llama.cpp's copy of their KV cache (sequence 0)."""

    tokens: np.ndarray
    data: ctypes.Array[ctypes.c_uint8]
    size: int

    @property
    def nbytes(self) -> int:
        return self.size + self.tokens.nbytes


def _common_prefix(have: Sequence[int] | np.ndarray, want: Sequence[int]) -> int:
    """Length of the common start of two token sequences (vectorized: prompts are long)."""
    n = min(len(have), len(want))
    if n == 0:
        return 0
    differ = np.asarray(have[:n]) != np.asarray(want[:n], dtype=np.intc)
    first = int(np.argmax(differ))
    return first if differ[first] else n


class LlamaCppBinding:
    """One loaded `Llama`. Not thread-safe: only GenerationService calls it, one call at a time."""

    name = "llama_cpp"

    def __init__(self, model_path: str | os.PathLike[str], options: LoadOptions | None = None) -> None:
        options = options or LoadOptions()
        path = Path(model_path).expanduser().resolve()
        size = check_model_file(path)
        try:
            import llama_cpp  # noqa: F401
        except ImportError as e:  # pragma: no cover - requirements install it
            raise ModelLoadError("llama-cpp-python is not installed (pip install -r requirements.txt)") from e
        threads = options.n_threads or os.cpu_count() or 1
        try:
            self._llm: Llama | None = open_llama(
                path,
                n_ctx=options.n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=options.n_batch,
                n_gpu_layers=options.n_gpu_layers,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelLoadError(f"llama.cpp could not load {path.name}: {e}") from e
        meta = dict(self._llm.metadata)
        self._vocab = self._llm._model.vocab
        self._pieces: dict[int, bytes] = {}
        # Whose prompt the live KV cache holds (a discussion id; None = nobody in particular), and
        # the others' saved states, bounded in bytes.
        self._live_key: str | None = None
        self.states: StateCache[SavedState] = StateCache(options.state_cache_bytes)
        bos, eos = self._llm.token_bos(), self._llm.token_eos()
        self.info = ModelInfo(
            name=meta.get("general.name") or path.stem,
            path=str(path),
            size_bytes=size,
            n_ctx=self._llm.n_ctx(),
            n_ctx_train=self._llm._model.n_ctx_train(),
            chat_template=meta.get("tokenizer.chat_template"),
            bos_token=self._piece(bos, special=True).decode("utf-8", "replace") if bos >= 0 else "",
            eos_token=self._piece(eos, special=True).decode("utf-8", "replace") if eos >= 0 else "",
            adds_bos=bos >= 0 and self._llm.tokenize(b"a", add_bos=True)[:1] == [bos],
            binding=self.name,
            metadata={k: v for k, v in meta.items() if k != "tokenizer.chat_template"},
            source=str(path),
        )
        log.info("loaded %s (%d threads, n_ctx=%d)", path.name, threads, self.info.n_ctx)

    def _piece(self, token: int, special: bool = False) -> bytes:
        """The exact bytes of one token, cached: streaming never re-decodes earlier tokens."""
        key = token if not special else -token - 1
        piece = self._pieces.get(key)
        if piece is None:
            from llama_cpp import llama_cpp as lib

            size = 64
            while True:
                buf = ctypes.create_string_buffer(size)
                n = lib.llama_token_to_piece(self._vocab, token, buf, size, 0, special)
                if n >= 0:
                    piece = buf.raw[:n]
                    break
                size = -n
            self._pieces[key] = piece
        return piece

    def _open_llm(self) -> Llama:
        """The live model; a closed binding says so clearly instead of failing on None."""
        llm = self._llm
        if llm is None:
            raise ModelNotLoaded(f"{self.info.file_name or 'The model'} was closed (unloaded or replaced).")
        return llm

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        # special=True so chat-template markers (<|im_start|>...) become their control tokens.
        return self._open_llm().tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def detokenize(self, tokens: list[int]) -> str:
        self._open_llm()  # uncached pieces read the vocabulary, freed with the model
        return b"".join(self._piece(t) for t in tokens).decode("utf-8", errors="replace")

    def count_tokens(self, text: str, *, add_bos: bool = False) -> int:
        return len(self.tokenize(text, add_bos=add_bos))

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
        from llama_cpp import llama_cpp as lib

        tokens = self.tokenize(prompt)
        stats.prompt_tokens, stats.seed = len(tokens), seed
        if len(tokens) + 1 > self.info.n_ctx:
            raise GenerationError(
                f"The prompt is {len(tokens)} tokens but the model's context holds {self.info.n_ctx}."
            )
        max_tokens = min(max_tokens, self.info.n_ctx - len(tokens))
        llm = self._open_llm()
        llm.set_seed(seed)
        # repeat_last_n: llama-cpp-python has no per-call argument for the penalty window. Its
        # Llama.generate() builds a fresh sampler chain on every call and reads the window size from
        # the `last_n_tokens_size` attribute (the constructor argument of the same name) at that
        # moment, so setting the attribute here applies the window to this generation and no other.
        # The window covers the tokens generated in this answer (the sampler only "accepts" sampled
        # tokens), which is llama-cpp-python's own semantics.
        llm.last_n_tokens_size = params.repeat_last_n
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._switch_to(cache_key, tokens)
        stats.cached_tokens = self._evaluate_all_but_last(tokens)
        generator = llm.generate(
            tokens,
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=0.0,  # only the samplers the user sees: temperature, top-k, top-p, penalty
            typical_p=1.0,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
            reset=True,  # reset=True still reuses the KV cache for the common prompt prefix
        )
        stats.stop_reason = "length"
        try:
            for token in generator:
                if lib.llama_vocab_is_eog(self._vocab, token):
                    stats.stop_reason = "eos"
                    break
                stats.completion_tokens += 1
                text = decoder.decode(self._piece(token))
                if text:
                    yield text
                if cancel.is_set():
                    stats.stop_reason = "cancelled"
                    break
                if stats.completion_tokens >= max_tokens:
                    stats.stop_reason = "length" if max_tokens == params.n_predict else "context"
                    break
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail
        finally:
            generator.close()

    def _evaluate_all_but_last(self, tokens: list[int]) -> int:
        """Bring the KV cache to `tokens[:-1]`, reusing the longest cached prefix.

        Why: llama.cpp's CPU kernels round differently for a one-token batch than for a long one,
        so the logits of the prompt's last token (which pick the first answer token) would depend
        on whether the prompt was evaluated fresh or found in the cache, and the same seed could
        give a different answer the second time. Evaluating the last prompt token always on its
        own (Llama.generate() then finds everything before it cached and evaluates just that one)
        makes the first logits, and so the whole seeded answer, independent of the cache history.
        Returns how many prompt tokens were found in the cache.
        """
        llm = self._llm
        keep = _common_prefix(llm._input_ids, tokens[:-1])
        if keep == 0 and llm.n_tokens > 0:
            llm.reset()
        llm.n_tokens = keep
        if keep < len(tokens) - 1:
            llm.eval(tokens[keep:-1])
        return keep

    # -- per-discussion states ---------------------------------------------------------------
    def _switch_to(self, key: str | None, tokens: list[int]) -> None:
        """Make the live KV cache the best start for `key`'s prompt `tokens`.

        The live state belongs to the discussion that spoke last; before another prompt overwrites
        it, it is saved under that discussion's key. If `key` has a saved state that shares more
        of the prompt than the live one does, it is restored. A restored state is byte for byte
        what was saved, and the prompt's last token is still evaluated on its own afterwards, so
        the answer is the one the discussion would have had if nobody had interrupted it.
        """
        if key == self._live_key:
            return
        llm = self._llm
        saved = self.states.pop(key) if key is not None else None
        if self._live_key is not None and llm.n_tokens > 0 and self.states.max_bytes > 0:
            state = self._save_state()
            if state.size > 0:  # llama.cpp copied nothing: keep nothing rather than an empty cache
                self.states.put(self._live_key, state)
        if saved is not None and _common_prefix(saved.tokens, tokens) > _common_prefix(llm._input_ids, tokens):
            self._load_state(saved)
        self._live_key = key

    def _save_state(self) -> SavedState:
        from llama_cpp import llama_cpp as lib

        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)  # only the evaluated tokens, nothing stale
        ctx = llm._ctx.ctx
        size = lib.llama_state_seq_get_size(ctx, 0)
        data = (ctypes.c_uint8 * size)()
        written = int(lib.llama_state_seq_get_data(ctx, data, size, 0))
        return SavedState(np.array(llm._input_ids, dtype=np.intc), data, written if 0 < written <= size else 0)

    def _load_state(self, state: SavedState) -> None:
        """Put a saved state back; if llama.cpp refuses it, start from an empty cache instead."""
        from llama_cpp import llama_cpp as lib

        llm = self._llm
        llm._ctx.kv_cache_clear()
        llm.n_tokens = 0
        if lib.llama_state_seq_set_data(llm._ctx.ctx, state.data, state.size, 0) != state.size:
            log.warning("could not restore a saved model state; evaluating the prompt afresh")
            llm.reset()
            llm._ctx.kv_cache_clear()
            return
        n = len(state.tokens)
        llm.input_ids[:n] = state.tokens
        llm.n_tokens = n
        llm._requires_eval = True  # the logits were not saved: evaluate before sampling

    def forget(self, key: str) -> None:
        """Drop `key`'s saved state (its discussion was deleted). The live cache stays usable."""
        self.states.discard(key)
        if key == self._live_key:
            self._live_key = None

    def close(self) -> None:
        states = getattr(self, "states", None)
        if states is not None:
            states.clear()
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            llm.close()
