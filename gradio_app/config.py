"""AppSettings and paths: the one place that knows where things live, what every setting means,
its default, its range and which flag or environment variable overrides it.

One table (`SETTINGS`) drives the settings file's validation, the command-line flags, the
environment variables and the reference in docs/settings.md, so they cannot drift apart.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import yaml

from gradio_app.fileio import atomic_write_yaml
from gradio_app.generation.params import PARAM_RANGES, GenerationParams
from gradio_app.generation.state_cache import DEFAULT_STATE_CACHE_BYTES
from gradio_app.personalities.prompt import PROMPT_FORMATS, PromptFormat

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILTIN_ZOO = PROJECT_ROOT / "personalities"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_PERSONALITY = "english/generic/lollms"
# Stable Diffusion models the user drops in (the project's own folder, not ../shared).
DEFAULT_SD_MODELS_DIR = PROJECT_ROOT / "shared" / "sd_models"
SD_MODELS_ENV = "PWEBUI_SD_MODELS"


def sd_models_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the art personality looks for models: $PWEBUI_SD_MODELS, else shared/sd_models/."""
    value = (os.environ if env is None else env).get(SD_MODELS_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else DEFAULT_SD_MODELS_DIR


BindingKind = Literal["llama_cpp", "openai"]
BINDING_KINDS: tuple[str, ...] = ("llama_cpp", "openai")
Scope = Literal["global", "session"]


@dataclass(frozen=True)
class DataPaths:
    """Everything the app writes lives under one data folder (git-ignored by default)."""

    root: Path

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.yaml"

    @property
    def discussions_db(self) -> Path:
        return self.root / "discussions.sqlite3"

    @property
    def browser_secret(self) -> Path:
        """The key that encrypts each browser's anonymous id in its localStorage."""
        return self.root / "browser-state.key"

    @property
    def user_zoo(self) -> Path:
        return self.root / "personalities"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def model_hashes(self) -> Path:
        """SHA-256 of model files already hashed (stored answers name the file that wrote them)."""
        return self.root / "model-hashes.json"

    @property
    def work(self) -> Path:
        """Scratch folders of scripted personalities (work/<language>/<category>/<name>/), not served."""
        return self.root / "work"

    def ensure(self) -> DataPaths:
        """Create the folders; on a read-only disk those that cannot be made are left out (the
        app then runs without saving: see AppContext.create)."""
        for folder in (self.root, self.user_zoo, self.outputs, self.models):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                log.error("cannot create %s: %s", folder, e.strerror or e)
        return self


# -- the settings themselves ------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSettings:
    """The in-process llama.cpp model. path None = the embedded default model."""

    path: str | None = None
    n_ctx: int = 4096
    n_threads: int | None = None  # None = every core
    n_batch: int = 512
    n_gpu_layers: int = 0  # -1 = every layer (only with a GPU build of llama.cpp)
    folders: tuple[str, ...] = ()  # extra folders searched for .gguf files
    # Saved per-discussion model states (so discussions taking turns keep their evaluated history).
    state_cache_mb: int = DEFAULT_STATE_CACHE_BYTES // 2**20


@dataclass(frozen=True)
class BindingSettings:
    """Which backend generates: in-process llama.cpp, or an OpenAI-compatible server."""

    kind: BindingKind = "llama_cpp"
    base_url: str = "http://127.0.0.1:8080/v1"
    api_key: str = ""
    model: str = ""  # "" = the server's first model
    timeout_s: float = 120.0
    n_ctx: int = 4096  # context size when the server does not report it


@dataclass(frozen=True)
class AppSettings:
    """Everything that survives a restart once saved. Immutable: change it with `with_values`."""

    model: ModelSettings = field(default_factory=ModelSettings)
    binding: BindingSettings = field(default_factory=BindingSettings)
    prompt_format: PromptFormat = "auto"
    default_personality: str = DEFAULT_PERSONALITY
    override_personality_params: bool = False
    user_params: GenerationParams = field(default_factory=GenerationParams)

    # -- flat view: "model.n_ctx" -> value ---------------------------------------------------
    def flat(self) -> dict[str, Any]:
        return {key.name: key.get(self) for key in SETTINGS}

    def get(self, name: str) -> Any:
        return SETTINGS_BY_NAME[name].get(self)

    def with_values(self, values: Mapping[str, Any]) -> AppSettings:
        """A copy with the given (already validated) flat values replaced."""
        sections: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for name, value in values.items():
            section, _, leaf = name.partition(".")
            if leaf:
                sections.setdefault(section, {})[leaf] = value
            else:
                top[name] = value
        for section, changes in sections.items():
            current = getattr(self, section)
            if isinstance(current, GenerationParams):
                top[section] = GenerationParams.from_dict(changes, current)
            else:
                top[section] = replace(current, **changes)
        return replace(self, **top)

    def to_yaml_data(self) -> dict[str, Any]:
        """The nested mapping written to settings.yaml (sections as sub-mappings)."""
        data: dict[str, Any] = {}
        for key in SETTINGS:
            value = key.get(self)
            if isinstance(value, tuple):
                value = list(value)
            section, _, leaf = key.name.partition(".")
            if leaf:
                data.setdefault(section, {})[leaf] = value
            else:
                data[section] = value
        return data

    # -- file ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> tuple[AppSettings, list[str]]:
        """Read the settings file. Bad values are reported (with their key) and replaced by the
        default; an unreadable file means all defaults. Never fatal: the app must start."""
        problems: list[str] = []
        if not path.exists():
            return cls(), problems
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            problem = f"{path}: unreadable ({_first_line(e)}); using the defaults"
            log.warning(problem)
            return cls(), [problem]
        if not isinstance(data, dict):
            problem = f"{path}: expected a mapping of settings; using the defaults"
            log.warning(problem)
            return cls(), [problem]
        values, found = _flatten_file(data)
        for legacy in found["unknown"]:
            problems.append(f"{path}: unknown setting '{legacy}' ignored")
        for section in found["not_mapping"]:
            problems.append(f"{path}: '{section}' must be a mapping of settings; using its defaults")
        checked: dict[str, Any] = {}
        for name, raw in values.items():
            key = SETTINGS_BY_NAME[name]
            try:
                checked[name] = key.check(raw)
            except ValueError as e:
                problems.append(f"{path}: '{name}': {e}; using the default ({key.show(key.default)})")
        for problem in problems:
            log.warning(problem)
        return cls().with_values(checked), problems

    def save(self, path: Path) -> None:
        """Write atomically: the old file stays whole until the new one is complete."""
        atomic_write_yaml(path, self.to_yaml_data())


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# Keys of the first settings files (flat), read so an old file keeps its values.
_LEGACY_KEYS = {
    "model_path": "model.path",
    "n_ctx": "model.n_ctx",
    "n_threads": "model.n_threads",
    "state_cache_mb": "model.state_cache_mb",
}
_SECTIONS = ("model", "binding", "user_params")


def _flatten_file(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    values: dict[str, Any] = {}
    found: dict[str, list[str]] = {"unknown": [], "not_mapping": []}
    for top, value in data.items():
        if top in _LEGACY_KEYS:
            values.setdefault(_LEGACY_KEYS[top], value)
        elif top in _SECTIONS:
            if value is None:
                continue
            if not isinstance(value, dict):
                found["not_mapping"].append(top)
                continue
            for leaf, leaf_value in value.items():
                name = f"{top}.{leaf}"
                if name in SETTINGS_BY_NAME:
                    values[name] = leaf_value
                else:
                    found["unknown"].append(name)
        elif top in SETTINGS_BY_NAME:
            values[top] = value
        else:
            found["unknown"].append(str(top))
    return values, found


# -- the table: one entry per setting -----------------------------------------------------------


@dataclass(frozen=True)
class SettingKey:
    """One setting: how to read it, check it, show it, and where it can be overridden."""

    name: str
    default: Any
    kind: str  # int | float | bool | text | choice | optional_int | optional_text | url | folders
    scope: Scope
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    env: str | None = None
    flag: str | None = None
    secret: bool = False
    empty: str = "(none)"  # how an empty value reads
    loads_model: bool = False  # changing it means reloading the in-process model
    connects_server: bool = False  # changing it means reconnecting to the server

    def get(self, settings: AppSettings) -> Any:
        section, _, leaf = self.name.partition(".")
        value = getattr(settings, section)
        return getattr(value, leaf) if leaf else value

    def check(self, value: Any, *, from_text: bool = False) -> Any:
        """The value in its canonical type, or ValueError saying what is allowed."""
        return _CHECKS[self.kind](self, _from_text(self, value) if from_text else value)

    def range_text(self) -> str:
        if self.kind in ("int", "float", "optional_int"):
            low = _num(self.low)
            high = _num(self.high)
            extra = ", empty or 0 = every core" if self.kind == "optional_int" else ""
            return f"{low} … {high}{extra}"
        if self.kind == "choice":
            return " \\| ".join(f"`{c}`" for c in self.choices)
        if self.kind == "bool":
            return "`true` \\| `false`"
        if self.kind == "url":
            return "http(s) URL"
        if self.kind == "folders":
            return "list of folders"
        return "text"

    def show(self, value: Any) -> str:
        """A value as the user reads it (secrets masked)."""
        if self.secret:
            return "(set)" if value else "(empty)"
        if value is None or value == "" or value == ():
            return self.empty
        if isinstance(value, tuple):
            return ", ".join(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else str(value)


def _from_text(key: SettingKey, value: Any) -> Any:
    """Environment variables and flags arrive as text: parse them as the YAML file would."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if key.kind == "folders":
        return [p for p in text.split(os.pathsep) if p.strip()]
    if key.kind in ("int", "optional_int"):
        try:
            return int(text) if text else None
        except ValueError:
            return text
    if key.kind == "float":
        try:
            return float(text)
        except ValueError:
            return text
    if key.kind == "bool":
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return text
    return value


def _check_int(key: SettingKey, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
        raise ValueError(f"must be a whole number between {_num(key.low)} and {_num(key.high)}")
    value = int(value)
    if (key.low is not None and value < key.low) or (key.high is not None and value > key.high):
        raise ValueError(f"must be between {_num(key.low)} and {_num(key.high)}, got {value}")
    return value


def _check_optional_int(key: SettingKey, value: Any) -> int | None:
    if value is None or value == "" or (not isinstance(value, bool) and value == 0):
        return None
    try:
        return _check_int(key, value)
    except ValueError:
        raise ValueError(
            f"must be a whole number between {_num(key.low)} and {_num(key.high)}, or empty for every core"
        ) from None


def _check_float(key: SettingKey, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number between {_num(key.low)} and {_num(key.high)}")
    value = float(value)
    if (key.low is not None and value < key.low) or (key.high is not None and value > key.high):
        raise ValueError(f"must be between {_num(key.low)} and {_num(key.high)}, got {value:g}")
    return value


def _check_bool(key: SettingKey, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _check_choice(key: SettingKey, value: Any) -> str:
    if value not in key.choices:
        raise ValueError(f"must be one of {', '.join(key.choices)}, got {value!r}")
    return str(value)


def _check_text(key: SettingKey, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("must be text")
    return value.strip()


def _check_optional_text(key: SettingKey, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be text (a file path), or empty for the embedded default")
    return value.strip() or None


def _check_required_text(key: SettingKey, value: Any) -> str:
    text = _check_text(key, value)
    if not text:
        raise ValueError("must not be empty")
    return text


def _check_url(key: SettingKey, value: Any) -> str:
    return normalize_base_url(_check_required_text(key, value))


def normalize_base_url(url: str) -> str:
    """`http://host:8080` and `http://host:8080/v1/` both mean the server's OpenAI API root."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http:// or https:// URL, got {url!r}")
    path = parts.path.rstrip("/")
    if not path:
        path = "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _check_folders(key: SettingKey, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of folder paths")
    seen: list[str] = []
    for folder in value:
        folder = folder.strip()
        if folder and folder not in seen:
            seen.append(folder)
    return tuple(seen)


_CHECKS: dict[str, Callable[[SettingKey, Any], Any]] = {
    "int": _check_int,
    "optional_int": _check_optional_int,
    "float": _check_float,
    "bool": _check_bool,
    "choice": _check_choice,
    "text": _check_text,
    "required_text": _check_required_text,
    "optional_text": _check_optional_text,
    "url": _check_url,
    "folders": _check_folders,
}

_M, _B = ModelSettings(), BindingSettings()
_P = GenerationParams()
_PARAM_HELP = {
    "temperature": "randomness of sampling (0 = greedy)",
    "top_k": "sample among the k most likely tokens (0 = off)",
    "top_p": "sample within this cumulative probability",
    "repeat_penalty": "penalty for repeating recent tokens (1 = off)",
    "repeat_last_n": "how many recent tokens the repeat penalty looks at",
    "n_predict": "maximum new tokens per answer",
    "seed": "sampling seed (-1 = a new random one each answer)",
}

SETTINGS: tuple[SettingKey, ...] = (
    SettingKey("model.path", _M.path, "optional_text", "global",
               "GGUF model file (absolute, or relative to a models folder); empty = the embedded "
               "SmolLM2-135M-Instruct", env="PWEBUI_MODEL", flag="--model", empty="(embedded default)",
               loads_model=True),
    SettingKey("model.n_ctx", _M.n_ctx, "int", "global", "context size in tokens (prompt + answer)",
               256, 1_048_576, env="PWEBUI_N_CTX", flag="--n-ctx", loads_model=True),
    SettingKey("model.n_threads", _M.n_threads, "optional_int", "global", "CPU threads",
               1, 1024, env="PWEBUI_N_THREADS", flag="--threads", empty="(every core)", loads_model=True),
    SettingKey("model.n_batch", _M.n_batch, "int", "global", "prompt tokens evaluated per batch",
               1, 65536, env="PWEBUI_N_BATCH", flag="--n-batch", loads_model=True),
    SettingKey("model.n_gpu_layers", _M.n_gpu_layers, "int", "global",
               "layers offloaded to the GPU (-1 = all; needs a GPU build of llama.cpp)",
               -1, 10_000, env="PWEBUI_N_GPU_LAYERS", flag="--n-gpu-layers", loads_model=True),
    SettingKey("model.state_cache_mb", _M.state_cache_mb, "int", "global",
               "MiB of saved per-discussion model states, so discussions taking turns keep their evaluated "
               "history (0 = no cache)", 0, 1_048_576, env="PWEBUI_STATE_CACHE_MB", flag="--state-cache-mb",
               loads_model=True),
    SettingKey("model.folders", _M.folders, "folders", "global",
               f"extra folders searched for .gguf files (environment: separated by '{os.pathsep}')",
               env="PWEBUI_MODELS_DIRS", flag="--models-dir"),
    SettingKey("binding.kind", _B.kind, "choice", "global",
               "`llama_cpp` = the model runs in this process; `openai` = an OpenAI-compatible server",
               choices=BINDING_KINDS, env="PWEBUI_BINDING", flag="--binding"),
    SettingKey("binding.base_url", _B.base_url, "url", "global",
               "the server's OpenAI API root (`/v1` is added when the URL has no path)",
               env="PWEBUI_SERVER_URL", flag="--server-url", connects_server=True),
    SettingKey("binding.api_key", _B.api_key, "text", "global", "bearer key for the server (empty = none)",
               env="PWEBUI_SERVER_API_KEY", flag="--server-api-key", secret=True, connects_server=True),
    SettingKey("binding.model", _B.model, "text", "global",
               "model name sent to the server (empty = the first model it lists)",
               env="PWEBUI_SERVER_MODEL", flag="--server-model", empty="(the first listed)",
               connects_server=True),
    SettingKey("binding.timeout_s", _B.timeout_s, "float", "global",
               "seconds to wait for the server (to connect, or for the next piece of an answer)",
               1, 3600, env="PWEBUI_SERVER_TIMEOUT", flag="--server-timeout", connects_server=True),
    SettingKey("binding.n_ctx", _B.n_ctx, "int", "global",
               "the server's context size, used when the server does not report it",
               256, 1_048_576, env="PWEBUI_SERVER_N_CTX", flag="--server-n-ctx", connects_server=True),
    SettingKey("prompt_format", "auto", "choice", "session",
               "`auto` = the model's chat template when it has one, else the personality's prefixes",
               choices=PROMPT_FORMATS, env="PWEBUI_PROMPT_FORMAT", flag="--prompt-format"),
    SettingKey("default_personality", DEFAULT_PERSONALITY, "required_text", "global",
               "the personality new discussions start with (`language/category/name`)",
               env="PWEBUI_PERSONALITY", flag="--personality"),
    SettingKey("override_personality_params", False, "bool", "session",
               "use the user's sampling parameters below instead of the personality's"),
    *(
        SettingKey(f"user_params.{name}", getattr(_P, name), "int" if kind is int else "float", "session",
                   _PARAM_HELP[name], low, high)
        for name, (low, high, kind) in PARAM_RANGES.items()
    ),
)  # fmt: skip
SETTINGS_BY_NAME: dict[str, SettingKey] = {key.name: key for key in SETTINGS}
SESSION_KEYS: tuple[str, ...] = tuple(k.name for k in SETTINGS if k.scope == "session")
GLOBAL_KEYS: tuple[str, ...] = tuple(k.name for k in SETTINGS if k.scope == "global")


# -- overrides from the environment and the command line ----------------------------------------


def env_overrides(env: Mapping[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Settings given by PWEBUI_* variables; a bad value is reported and ignored."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key in SETTINGS:
        if key.env and env.get(key.env, "") != "":
            try:
                values[key.name] = key.check(env[key.env], from_text=True)
            except ValueError as e:
                problems.append(f"{key.env}: {e}; ignored")
    return values, problems


def flag_overrides(given: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Settings given on the command line (`given` maps setting names to the raw flag values)."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, raw in given.items():
        if raw is None or raw == []:
            continue
        key = SETTINGS_BY_NAME[name]
        try:
            values[name] = key.check(raw, from_text=True)
        except ValueError as e:
            problems.append(f"{key.flag}: {e}; ignored")
    return values, problems


def settings_with_flags() -> list[SettingKey]:
    return [key for key in SETTINGS if key.flag]


def settings_reference_markdown() -> str:
    """The reference table in docs/settings.md (a test keeps the two identical)."""
    rows = [
        "| key | default | allowed | scope | flag | environment variable | meaning |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key in SETTINGS:
        default = key.show(key.default) if not key.secret else "(empty)"
        rows.append(
            f"| `{key.name}` | `{default}` | {key.range_text()} | {key.scope} | "
            f"{f'`{key.flag}`' if key.flag else ''} | {f'`{key.env}`' if key.env else ''} | {key.help} |"
        )
    return "\n".join(rows)


def all_fields() -> list[str]:
    """Every dataclass field reachable from AppSettings (a test checks SETTINGS covers them)."""
    names: list[str] = []
    for f in fields(AppSettings):
        value = getattr(AppSettings(), f.name)
        if hasattr(value, "__dataclass_fields__"):
            names.extend(f"{f.name}.{sub.name}" for sub in fields(value))
        else:
            names.append(f.name)
    return names


# -- command line ----------------------------------------------------------------------------------


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting that has one (see SETTINGS); each overrides the file for this run."""
    group = parser.add_argument_group("settings (override settings.yaml for this run; see docs/settings.md)")
    for key in settings_with_flags():
        dest = "setting__" + key.name.replace(".", "__")
        metavar = _METAVARS.get(key.kind, "VALUE")
        if key.kind == "folders":
            group.add_argument(key.flag, dest=dest, action="append", metavar=metavar, help=f"{key.help} (repeatable)")
        elif key.kind == "choice":
            group.add_argument(key.flag, dest=dest, choices=key.choices, help=key.help)
        else:
            group.add_argument(key.flag, dest=dest, metavar=metavar, help=key.help)
    parser.add_argument(
        "--lock-settings",
        action="store_true",
        default=_env_flag(os.environ.get("PWEBUI_LOCK_SETTINGS")),
        help="visitors cannot change or save the model, binding and defaults from the page "
        "(default on a Hugging Face Space; PWEBUI_LOCK_SETTINGS=0 unlocks)",
    )


_METAVARS = {"folders": "DIR", "url": "URL", "int": "N", "optional_int": "N", "float": "SECONDS",
             "optional_text": "PATH", "required_text": "ID", "text": "TEXT"}  # fmt: skip


def _env_flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def overrides_from_args(
    args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Environment overrides, then flags on top (a flag beats a variable)."""
    values, problems = env_overrides(env)
    given = {key.name: getattr(args, "setting__" + key.name.replace(".", "__"), None) for key in settings_with_flags()}
    flag_values, flag_problems = flag_overrides(given)
    values.update(flag_values)
    return values, problems + flag_problems


def settings_lock(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> str:
    """Why global settings are locked ('' = they are not). Locked by default on a Space, where any
    visitor could otherwise repoint the server or fill its disk with downloads."""
    env = os.environ if env is None else env
    if args.lock_settings:
        return "started with --lock-settings (or PWEBUI_LOCK_SETTINGS=1)"
    explicit = env.get("PWEBUI_LOCK_SETTINGS", "").strip()
    if env.get("SPACE_ID") and not explicit:
        return "this is a public Hugging Face Space (set PWEBUI_LOCK_SETTINGS=0 to allow changes)"
    return ""


if __name__ == "__main__":  # python -m gradio_app.config: the reference table for docs/settings.md
    print(settings_reference_markdown())
