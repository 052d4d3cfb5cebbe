"""Every example command in the docs runs as written (or, for tools this machine cannot run, its
flags are checked against the tool itself). A doc that drifts from the code fails here.

Commands of external servers that are not installed here (llama.cpp's `llama-server`, vLLM, Ollama,
Docker/TGI) are listed in EXTERNAL; everything else must be handled by one of the checks below.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app import parse_args
from gradio_app.auth import credentials
from gradio_app.config import SETTINGS, AppSettings, overrides_from_args
from gradio_app.generation.models_zoo import CATALOG_BY_ID
from tests.conftest import FIXTURE_ZOO, PROJECT_ROOT, SHARED_FIXTURES, LaunchedApp

DOCS = [
    *sorted((PROJECT_ROOT / "docs").glob("*.md")),
    PROJECT_ROOT / "README.md",
    PROJECT_ROOT / "bench" / "README.md",
    PROJECT_ROOT / "shared" / "sd_models" / "README.md",
]
EXTERNAL = ("llama-server ", "vllm ", "ollama ", "docker ", "curl ")  # curl: tests/api


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)\n```", path.read_text(encoding="utf-8"), re.S)


ENV_PREFIX = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=(?:\"[^\"]*\"|'[^']*'|\S+)\s+)+")


def split_env(command: str) -> tuple[dict[str, str], str]:
    """`A=1 B="x y" python app.py` -> ({"A": "1", "B": "x y"}, "python app.py")."""
    command = command.strip()
    prefix = ENV_PREFIX.match(command)
    if prefix is None:
        return {}, command
    env = dict(word.split("=", 1) for word in shlex.split(prefix.group(0)))
    return env, command[prefix.end() :]


def normalized(command: str) -> str:
    """`.venv/bin/python app.py` is `python app.py`; leading VAR=value assignments are split off
    (checked on their own by test_environment_variables_in_commands_are_real)."""
    return re.sub(r"^\.venv/bin/(python|pip)\b", r"\1", split_env(command)[1])


def shell_commands() -> list[tuple[str, dict[str, str], str]]:
    """(doc name, VAR=value prefix, command) for every command of every bash block (continuations
    joined, `&&` chains split)."""
    found = []
    for doc in DOCS:
        for block in blocks(doc, "bash"):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #", 1)[0].strip()
                if not line or line.startswith("#"):
                    continue
                found += [(doc.name, split_env(part)[0], normalized(part)) for part in line.split("&&") if part.strip()]
    return found


ENV_COMMANDS = shell_commands()
COMMANDS = [(doc, command) for doc, _, command in ENV_COMMANDS]


def words(command: str) -> list[str]:
    return shlex.split(command)


def test_every_documented_command_is_covered_by_a_check():
    checks = ("python app.py", "python -m gradio_app.add_personality", "scripts/add_personality.sh")
    checks += ("python -m llama_cpp.server", "python bench/", "pip install", "python3 -m venv .venv")
    checks += ("python -m pytest",)
    unchecked = [(doc, c) for doc, c in COMMANDS if not c.startswith(checks) and not c.startswith(EXTERNAL)]
    assert not unchecked, f"commands in the docs that no test checks: {unchecked}"


APP_COMMANDS = sorted({c for _, c in COMMANDS if c.startswith("python app.py")})


@pytest.mark.parametrize("command", APP_COMMANDS)
def test_app_commands_parse_and_their_settings_are_valid(command):
    args = parse_args(words(command)[2:])
    _, problems = overrides_from_args(args, env={})
    assert problems == [], problems


# -- environment variables: the settings table (gradio_app/config.py), or read by the app itself ----

SETTING_VARIABLES = {key.env: key for key in SETTINGS if key.env}
# Not ours: read by a build, Hugging Face Hub or Spaces (documented where they are used).
EXTERNAL_VARIABLES = {"CMAKE_ARGS", "HF_TOKEN", "HF_ENDPOINT", "SPACE_ID"}


def variables_the_app_reads() -> set[str]:
    """PWEBUI_* names in app.py and gradio_app/ besides the settings table (host, data folder,
    sign-in, API keys, locking, start-up download...)."""
    sources = [PROJECT_ROOT / "app.py", *sorted((PROJECT_ROOT / "gradio_app").rglob("*.py"))]
    return {name for path in sources for name in re.findall(r"\bPWEBUI_[A-Z0-9_]+\b", path.read_text())}


APP_VARIABLES = variables_the_app_reads() - set(SETTING_VARIABLES)


def a_switch(value: str) -> None:
    if value.strip().lower() not in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
        raise ValueError(f"{value!r} is not on/off")


# Values of app-level variables that can be checked without starting the app (each raises if bad).
APP_VALUE_CHECKS = {
    "PWEBUI_AUTH": lambda value: credentials([], None, value),
    "PWEBUI_DOWNLOAD_MODEL": lambda value: CATALOG_BY_ID[value],
    "PWEBUI_LOCK_SETTINGS": a_switch,
}


def test_the_variable_tables_are_sound():
    assert {"PWEBUI_MODEL", "PWEBUI_N_GPU_LAYERS", "PWEBUI_SERVER_URL"} <= set(SETTING_VARIABLES)
    assert {"PWEBUI_HOST", "PWEBUI_DATA_DIR", "PWEBUI_AUTH", "PWEBUI_API_KEYS", "PWEBUI_LOCK_SETTINGS"} <= APP_VARIABLES
    assert set(APP_VALUE_CHECKS) <= APP_VARIABLES


@pytest.mark.parametrize("doc", [d for d in DOCS if "PWEBUI_" in d.read_text(encoding="utf-8")], ids=lambda d: d.name)
def test_every_variable_the_docs_name_is_real(doc):
    """A PWEBUI_* name anywhere in a doc (prose, tables, commands) is a setting or read by the app."""
    named = set(re.findall(r"\bPWEBUI_[A-Z0-9_]+\b", doc.read_text(encoding="utf-8")))
    unknown = named - set(SETTING_VARIABLES) - APP_VARIABLES
    assert not unknown, f"{doc.name} names variables the app does not know: {sorted(unknown)}"


ENV_PREFIXED = sorted({(d, tuple(e.items()), c) for d, e, c in ENV_COMMANDS if e})


@pytest.mark.parametrize(
    ("doc", "env", "command"), ENV_PREFIXED, ids=[f"{d}:{'+'.join(k for k, _ in e)}" for d, e, _ in ENV_PREFIXED]
)
def test_environment_variables_in_commands_are_real(doc, env, command, monkeypatch):
    """`VAR=value command`: each variable is a setting whose check accepts the value, a variable the
    app reads (its value checked where that is possible without starting it), or an external one;
    an app command parses under that environment with no setting problem."""
    env = dict(env)
    for name, value in env.items():
        if name in SETTING_VARIABLES:
            SETTING_VARIABLES[name].check(value, from_text=True)  # raises ValueError with the reason
        elif name in APP_VARIABLES:
            APP_VALUE_CHECKS.get(name, str)(value)
        else:
            assert name in EXTERNAL_VARIABLES, f"{doc}: {name} is not a variable the app or its tools read"
    if command.startswith("python app.py"):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        args = parse_args(words(command)[2:])
        _, problems = overrides_from_args(args, env=env)
        assert problems == [], problems
        if "PWEBUI_HOST" in env:
            assert args.host == env["PWEBUI_HOST"]
        if "PWEBUI_DATA_DIR" in env:
            assert str(args.data_dir) == env["PWEBUI_DATA_DIR"]


def test_the_hosting_examples_are_checked():
    """docs/hosting.md shows exposing the app and configuring it by variables: all of it in fences."""
    hosting = [(e, c) for d, e, c in ENV_COMMANDS if d == "hosting.md"]
    flags = {w for _, c in hosting for w in words(c) if w.startswith("--")}
    assert {"--host", "--share", "--auth", "--auth-file", "--api-key", "--mcp"} <= flags
    variables = {name for e, _ in hosting for name in e}
    assert {"PWEBUI_HOST", "PWEBUI_DATA_DIR", "PWEBUI_AUTH", "PWEBUI_N_GPU_LAYERS", "PWEBUI_SERVER_URL"} <= variables


PIP = sorted({c for _, c in COMMANDS if c.startswith("pip install")})


def pinned(requirement: str) -> str:
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (PROJECT_ROOT / name).read_text().splitlines():
            if re.match(rf"{re.escape(requirement)}(\[[\w,]+\])?==", line):
                return line.split("==", 1)[1].strip()
    return ""


@pytest.mark.parametrize("command", PIP)
def test_pip_commands_name_real_files_and_the_pinned_versions(command):
    argv = words(command)
    for i, word in enumerate(argv):
        if word == "-r":
            assert (PROJECT_ROOT / argv[i + 1]).is_file()
        elif not word.startswith("-") and word not in ("pip", "install") and argv[i - 1] != "-r":
            name, _, version = re.sub(r"\[.*?\]", "", word).partition("==")
            if version:  # a pinned package: the pin we test with
                assert pinned(name) == version, f"{word}: requirements pin {name}=={pinned(name)}"


@pytest.mark.parametrize("command", sorted({c for _, c in COMMANDS if c.startswith("python -m pytest")}))
def test_the_test_command_is_the_one_ci_runs(command):
    assert command in normalized((PROJECT_ROOT / ".ci" / "run").read_text().splitlines()[-1].split("&&")[-1])


LLAMA_SERVER = sorted({c for _, c in COMMANDS if c.startswith("python -m llama_cpp.server")})


@pytest.mark.parametrize("command", LLAMA_SERVER)
def test_llama_cpp_server_flags_exist(command):
    help_text = subprocess.run(
        [sys.executable, "-m", "llama_cpp.server", "--help"], capture_output=True, text=True, timeout=120
    ).stdout
    for flag in (w for w in words(command) if w.startswith("--")):
        assert flag in help_text, f"llama_cpp.server has no {flag}"


BENCH = sorted({c for _, c in COMMANDS if c.startswith("python bench/")})


@pytest.mark.parametrize("command", BENCH)
def test_bench_commands_name_real_scripts_and_flags(command):
    argv = words(command)
    script = PROJECT_ROOT / argv[1]
    assert script.is_file()
    help_text = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT
    ).stdout
    for flag in (w for w in argv if w.startswith("--") and w != "--help"):
        assert flag in help_text, f"{argv[1]} has no {flag}"


def git_zoo(tmp_path: Path) -> str:
    """The fixture zoo as a git repository (the docs clone a GitHub URL; this machine has no internet)."""
    repo = tmp_path / "zoo-repo"
    shutil.copytree(FIXTURE_ZOO, repo)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "zoo"], check=True)
    return f"file://{repo}"


ADD = sorted({c for _, c in COMMANDS if c.startswith("python -m gradio_app.add_personality")})


@pytest.mark.slow
@pytest.mark.parametrize("command", ADD)
def test_add_personality_commands_run_as_written(command, tmp_path):
    """Run for real, with the docs' source folders standing for the fixture zoo."""
    argv = words(command)
    source = argv[argv.index("--source") + 1]
    argv[argv.index("--source") + 1] = git_zoo(tmp_path) if source.startswith("https://") else str(FIXTURE_ZOO)
    interactive = "--list" not in argv and "--all" not in argv and "--personality" not in argv
    data = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, *argv[1:], "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
        input="1\n1\n1\n" if interactive else "",  # the numbered menus: language, category, personality
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    if "--list" in argv:
        assert "python specialist" in done.stdout
    else:
        assert any((data / "personalities").glob("*/*/*/config.yaml"))


@pytest.mark.slow
def test_the_add_personality_script_asks_for_everything(tmp_path):
    """`scripts/add_personality.sh` alone: the source, then numbered menus (answered here)."""
    assert "scripts/add_personality.sh" in [c for _, c in COMMANDS]
    data = tmp_path / "data"
    done = subprocess.run(
        ["bash", str(PROJECT_ROOT / "scripts" / "add_personality.sh"), "--data-dir", str(data)],
        input=f"{FIXTURE_ZOO}\n1\n1\n1\n",
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(list((data / "personalities").glob("*/*/*/config.yaml"))) == 1


def test_the_settings_example_is_a_valid_settings_file(tmp_path):
    [example] = blocks(PROJECT_ROOT / "docs" / "settings.md", "yaml")
    path = tmp_path / "settings.yaml"
    path.write_text(example)
    settings, problems = AppSettings.load(path)
    assert problems == [], problems
    assert settings.model.n_ctx == yaml.safe_load(example)["model"]["n_ctx"]


@pytest.fixture(scope="module")
def zoo_app(tmp_path_factory):
    data = tmp_path_factory.mktemp("docs-zoo")
    folder = data / "personalities" / "english" / "tools" / "configurable"
    folder.mkdir(parents=True)
    template = [{"name": "depth", "type": "int", "default": 2, "min": 1, "max": 5}]
    config = {"name": "Configurable", "processor_cfg": {"settings": template}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    app = LaunchedApp(data, "--n-ctx", "2048")
    yield app
    app.stop()


@pytest.mark.slow
@pytest.mark.ui
def test_the_zoo_api_example_runs_as_written(zoo_app, tmp_path):
    [code] = blocks(PROJECT_ROOT / "docs" / "zoo.md", "python")
    card = SHARED_FIXTURES / "character_cards" / "default_Seraphina.png"
    shutil.copyfile(card, tmp_path / "Seraphina.png")
    code = code.replace("http://127.0.0.1:7860/", zoo_app.url)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    local = zoo_app.data_dir / "personalities" / "english" / "tools" / "configurable" / "config_local.yaml"
    assert yaml.safe_load(local.read_text())["depth"] == 3
    assert any((zoo_app.data_dir / "personalities" / "english" / "characters").iterdir())
