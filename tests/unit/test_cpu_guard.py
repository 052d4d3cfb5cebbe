"""The CPU guard: where AMX is advertised but faults, models open without llama.cpp's extra
buffer types; elsewhere nothing changes and no probe runs."""

import subprocess
import sys

from gradio_app.generation import cpu_guard
from gradio_app.generation.default_model import default_model_path


def test_amx_is_read_from_the_cpu_flags(tmp_path):
    amx = tmp_path / "amx"
    amx.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 amx_bf16 amx_tile amx_int8\n\n")
    plain = tmp_path / "plain"
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n\n")
    assert cpu_guard.cpu_advertises_amx(amx)
    assert not cpu_guard.cpu_advertises_amx(plain)
    assert not cpu_guard.cpu_advertises_amx(tmp_path / "missing")


def test_the_defaults_are_amended_only_while_a_model_opens():
    from llama_cpp import llama_cpp as lib

    assert lib.llama_model_default_params().use_extra_bufts
    with cpu_guard._without_extra_buffers():
        assert not lib.llama_model_default_params().use_extra_bufts
    assert lib.llama_model_default_params().use_extra_bufts


def test_the_verdict_matches_what_a_child_process_really_does():
    """The probe's answer is what happens to a process that evaluates with the default buffers;
    and a model opened through the guard evaluates in this process either way."""
    model = default_model_path()
    child = subprocess.run([sys.executable, "-c", cpu_guard._PROBE, str(model)], capture_output=True, timeout=120)
    assert (child.returncode == 0) == cpu_guard.extra_buffers_safe()
    llm = cpu_guard.open_llama(model, n_ctx=128, n_batch=64, n_threads=1, verbose=False)
    llm.eval(llm.tokenize(b"The quick brown fox jumps over the lazy dog. " * 3))
    assert llm.n_tokens > 10
