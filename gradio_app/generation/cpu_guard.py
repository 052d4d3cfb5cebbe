"""Open a llama.cpp model without the CPU kernels that would kill the process on this machine.

Some virtual machines advertise Intel AMX (`amx_tile` in /proc/cpuinfo) and even grant the
permission ggml asks the kernel for, yet fault on the first tile instruction (SIGILL; seen on
Firecracker guests of Sapphire Rapids hosts). A llama-cpp-python compiled with `-march=native`
on such a host has AMX built in and dies at the first matrix product of the first answer, and a
pip-cached wheel built on another machine can carry it too, so the build cannot be trusted to
have left it out.

A fault like that cannot be caught in-process, so the question is asked once per process, of a
child that loads the embedded model and evaluates a few tokens. If the child dies, models are
opened with `use_extra_bufts = False`: llama.cpp then keeps the weights in plain CPU buffers (no
AMX, no repacking), which is what llama.cpp's own `--no-repack` flag does. Machines that do not
advertise AMX never pay for the probe.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 120
# Loads the model with llama.cpp's default buffers and runs one batch through it: the first
# matrix product is where AMX kernels run.
_PROBE = """
import sys
from llama_cpp import Llama
llm = Llama(sys.argv[1], n_ctx=128, n_batch=64, n_threads=1, verbose=False)
llm.eval(llm.tokenize(b"The quick brown fox jumps over the lazy dog. " * 3))
"""
_patch_lock = threading.Lock()


def cpu_advertises_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return any(line.startswith("flags") and " amx_tile" in line for line in text.splitlines())


def _probe_model(fallback: Path | None) -> Path | None:
    from gradio_app.generation.default_model import DefaultModelMissing, default_model_path

    try:
        return default_model_path()
    except DefaultModelMissing:
        return fallback


@functools.cache
def _probe(model: Path) -> bool:
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE, str(model)], capture_output=True, timeout=PROBE_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        log.warning("the llama.cpp CPU probe did not finish in %ss; loading without extra buffers", PROBE_TIMEOUT_S)
        return False
    if result.returncode == 0:
        return True
    how = f"signal {-result.returncode}" if result.returncode < 0 else f"exit code {result.returncode}"
    log.warning(
        "this CPU advertises AMX but llama.cpp's AMX kernels fail here (%s); models load without "
        "llama.cpp's extra buffer types (AMX, weight repacking)",
        how,
    )
    return False


def extra_buffers_safe(fallback_model: Path | None = None) -> bool:
    """Whether llama.cpp may use its extra CPU buffer types (AMX, repacking) in this process.

    `fallback_model` is probed when the embedded model is not installed."""
    if not cpu_advertises_amx():
        return True
    model = _probe_model(fallback_model)
    return _probe(model) if model is not None else False


@contextlib.contextmanager
def _without_extra_buffers() -> Iterator[None]:
    """`Llama()` builds its model parameters from `llama_model_default_params()` and has no
    argument for `use_extra_bufts`, so the defaults are amended while a model is constructed."""
    from llama_cpp import llama_cpp as lib

    original = lib.llama_model_default_params

    def defaults() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    with _patch_lock:
        lib.llama_model_default_params = defaults
        try:
            yield
        finally:
            lib.llama_model_default_params = original


def open_llama(model_path: str | Path, **kwargs: Any) -> Any:
    """`llama_cpp.Llama(model_path, **kwargs)`, safe on this machine's CPU."""
    from llama_cpp import Llama

    if kwargs.get("vocab_only") or extra_buffers_safe(Path(model_path)):
        return Llama(model_path=str(model_path), **kwargs)
    with _without_extra_buffers():
        return Llama(model_path=str(model_path), **kwargs)


def run_module_safely(module: str) -> None:
    """Run a module as `__main__` (e.g. `llama_cpp.server`) with the same guard."""
    import runpy

    if extra_buffers_safe():
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return
    with _without_extra_buffers():
        runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":  # python -m gradio_app.generation.cpu_guard llama_cpp.server --model ...
    logging.basicConfig(level=logging.INFO)
    target = sys.argv[1]
    sys.argv = [target, *sys.argv[2:]]
    run_module_safely(target)
