"""What a stranger on the network can reach: only what the app means to serve."""

import httpx
import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.ui, pytest.mark.slow]


@pytest.mark.parametrize(
    "target",
    [
        "/etc/passwd",
        str(PROJECT_ROOT / "app.py"),
        str(PROJECT_ROOT / "personalities" / "english" / "generic" / "lollms" / "config.yaml"),
        "../../../../etc/passwd",
        "%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_files_outside_the_served_folders_are_refused(launched_app, target):
    for prefix in ("gradio_api/file=", "file="):
        response = httpx.get(f"{launched_app.url}{prefix}{target}", timeout=10)
        assert response.status_code in (400, 403, 404), (prefix, target, response.status_code)
        assert "root:" not in response.text
        assert "def main" not in response.text


def test_data_folder_is_not_served(launched_app):
    log = launched_app.log_path  # a file that certainly exists in the app's data folder
    assert log.is_file()
    response = httpx.get(f"{launched_app.url}gradio_api/file={log}", timeout=10)
    assert response.status_code in (400, 403, 404)


def test_only_safe_yaml_loaders_are_used():
    """Personality files, settings and imports are data from elsewhere: YAML is only ever read with a
    safe loader, so a `!!python/object` tag can never run code (tests/reliability/test_bad_input.py
    shows the refusal on a real file)."""
    import re

    unsafe = re.compile(
        r"yaml\.(unsafe_load|full_load)\(|Loader=yaml\.(Loader|FullLoader|UnsafeLoader)|yaml\.load\((?!.*_SAFE_LOADER)"
    )
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for path in [
            *PROJECT_ROOT.glob("gradio_app/**/*.py"),
            *PROJECT_ROOT.glob("personalities/**/*.py"),
            PROJECT_ROOT / "app.py",
        ]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if unsafe.search(line)
    ]
    assert offenders == []
