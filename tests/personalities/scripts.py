"""Import a built-in personality's script by path (as the app does), for unit tests of its parts."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from gradio_app.config import BUILTIN_ZOO


def load_script(personality_id: str, name: str = "processor") -> ModuleType:
    path = Path(BUILTIN_ZOO, *personality_id.split("/"), "scripts", f"{name}.py")
    module_name = f"test_script_{personality_id.replace('/', '_')}_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
