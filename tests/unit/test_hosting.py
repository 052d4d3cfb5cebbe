"""Hugging Face Space readiness: front matter consistent with requirements, Space defaults."""

import re
from pathlib import Path

import yaml

from gradio_app.config import DEFAULT_DATA_DIR
from gradio_app.hosting import host_defaults
from tests.conftest import PROJECT_ROOT


def front_matter() -> dict:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md must start with the Space's YAML front matter"
    return yaml.safe_load(match.group(1))


def pinned(requirement: str) -> str:
    lines = (PROJECT_ROOT / "requirements.txt").read_text().splitlines()
    [line] = [ln for ln in lines if re.match(rf"{requirement}(\[[\w,]+\])?\s*==", ln)]
    return line.split("==")[1].strip()


def test_space_front_matter_is_complete_and_matches_requirements():
    meta = front_matter()
    assert meta["sdk"] == "gradio"
    assert str(meta["sdk_version"]) == pinned("gradio")
    assert (PROJECT_ROOT / meta["app_file"]).is_file()
    assert meta["title"]
    assert 0 < len(meta["short_description"]) <= 60  # the Hub's limit
    assert str(meta["python_version"]).startswith("3.")


def test_readme_commands_follow_the_front_matter():
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split("\n---\n", 1)[1]
    blocks = re.findall(r"```bash\n(.*?)\n```", body, re.S)
    assert "app.py" in blocks[0]
    assert "pytest" in blocks[1]
    assert blocks[1].strip() in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_local_defaults():
    where = host_defaults({})
    assert (where.host, where.data_dir) == ("127.0.0.1", DEFAULT_DATA_DIR)
    assert not where.on_space
    assert where.persistent


def test_space_binds_all_interfaces_and_uses_persistent_storage(tmp_path: Path):
    where = host_defaults({"SPACE_ID": "someone/app"}, persistent_dir=tmp_path)
    assert where.host == "0.0.0.0"
    assert where.data_dir == tmp_path / "personalities-webui"
    assert where.persistent


def test_space_without_persistent_storage_says_so(tmp_path: Path):
    where = host_defaults({"SPACE_ID": "someone/app"}, persistent_dir=tmp_path / "missing")
    assert where.data_dir == DEFAULT_DATA_DIR
    assert not where.persistent


def test_environment_overrides_win():
    where = host_defaults({"SPACE_ID": "x/y", "PWEBUI_HOST": "127.0.0.2", "PWEBUI_DATA_DIR": "/tmp/d"})
    assert where.host == "127.0.0.2"
    assert where.data_dir == Path("/tmp/d")
