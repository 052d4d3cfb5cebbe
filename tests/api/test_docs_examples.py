"""Every example command in docs/api.md runs as written against a launched app."""

import re
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, LaunchedApp

pytestmark = [pytest.mark.ui, pytest.mark.slow]

DOC = PROJECT_ROOT / "docs" / "api.md"
KEY = "sk-local-demo"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    launched = LaunchedApp(tmp_path_factory.mktemp("docs-api"), "--api-key", KEY)
    yield launched
    launched.stop()


def on(app: LaunchedApp, command: str) -> str:
    return command.replace("http://127.0.0.1:7860/", app.url)


def test_the_start_command_is_the_one_the_fixture_uses():
    assert blocks("bash")[0] == f"python app.py --api-key {KEY}"


def test_curl_example(app):
    out = subprocess.run(on(app, blocks("bash")[1]), shell=True, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"english/generic/lollms"' in out.stdout


def test_python_example(app):
    [code] = blocks("python")
    out = subprocess.run([sys.executable, "-c", on(app, code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
