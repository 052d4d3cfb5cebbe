"""Browser end-to-end fixtures: Debian's chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_ZOO, PROJECT_ROOT, LaunchedApp

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
# As root in a closed network: no sandbox, and no background calls home that would be refused.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_chromium() -> Path:
    """Install Debian's chromium with apt when it is missing (CI machines start without it)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail("chromium is missing and cannot be installed here: apt-get install chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def e2e_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedApp]:
    data = tmp_path_factory.mktemp("e2e-data")
    shutil.copytree(FIXTURE_ZOO / "english" / "generic" / "gpt4all", data / "personalities/english/generic/gpt4all")
    app = LaunchedApp(data)
    yield app
    app.stop()


@pytest.fixture
def page(browser, e2e_app, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(e2e_app.url)
    page.get_by_role("button", name="Send").wait_for()
    page.locator('[data-testid="bot"]').first.wait_for()  # the welcome message, rendered on load
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
