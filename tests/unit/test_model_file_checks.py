"""A model file too big for this machine's memory is refused before llama.cpp maps it, with a
message that says the sizes and what to do."""

import pytest

from gradio_app.generation.bindings.base import ModelLoadError
from gradio_app.generation.bindings.llama_cpp import available_memory_bytes, check_model_file
from gradio_app.generation.service import GenerationService


def test_a_model_bigger_than_the_free_memory_is_refused_clearly(tmp_path):
    free = available_memory_bytes()
    assert free is not None  # Linux: /proc/meminfo
    huge = tmp_path / "huge.gguf"
    with huge.open("wb") as f:  # a sparse file: GGUF signature, then a hole twice the free memory
        f.write(b"GGUF")
        f.truncate(2 * free)
    with pytest.raises(ModelLoadError, match=r"GiB but only .* GiB of memory is available") as refused:
        check_model_file(huge)
    assert "smaller" in str(refused.value)
    service = GenerationService()
    with pytest.raises(ModelLoadError, match="memory"):
        service.load(huge)
    assert "memory" in service.load_error and not service.is_loaded


def test_a_model_that_fits_passes_the_checks(model_path):
    assert check_model_file(model_path) == model_path.stat().st_size
