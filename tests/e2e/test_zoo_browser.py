"""The zoo tab in a real browser: search, the settings form (rendered per personality), Apply."""

import pytest
import yaml

from tests.conftest import LaunchedApp
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TEMPLATE = [
    {"name": "depth", "type": "int", "default": 2, "min": 1, "max": 5, "help": "How many levels to explore"},
    {"name": "style", "type": "choice", "default": "short", "options": ["short", "long"]},
    {"name": "verbose", "type": "bool", "default": False},
    {"name": "notes", "type": "text", "default": "be kind"},
]


@pytest.fixture(scope="module")
def zoo_app(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e-zoo")
    folder = data / "personalities" / "english" / "tools" / "configurable"
    folder.mkdir(parents=True)
    config = {"name": "Configurable Tool", "personality_description": "Has settings of its own.",
              "welcome_message": "Configured and ready.", "processor_cfg": {"settings": TEMPLATE}}  # fmt: skip
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    app = LaunchedApp(data)
    yield app
    app.stop()


@pytest.fixture
def zoo_page(browser, zoo_app, request):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(zoo_app.url)
    page.get_by_role("button", name="Send").wait_for()
    page.get_by_role("tab", name="Personalities Zoo").click()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def test_search_then_edit_and_save_the_personalitys_settings_then_apply(zoo_page, zoo_app):
    page = zoo_page
    page.get_by_placeholder("Search by name or description").fill("configurable")
    page.get_by_text("1 personality match").wait_for()
    page.get_by_text("Has settings of its own.").wait_for()
    # the form: one component per typed field
    page.get_by_text("Settings of Configurable Tool").wait_for()
    page.get_by_label("Verbose").check()
    notes = page.get_by_label("Notes")
    notes.fill("be brief")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Saved the settings of").wait_for()
    local = zoo_app.data_dir / "personalities/english/tools/configurable/config_local.yaml"
    assert yaml.safe_load(local.read_text()) == {"depth": 2, "style": "short", "verbose": True, "notes": "be brief"}
    page.get_by_role("button", name="Apply", exact=True).click()
    page.get_by_role("heading", name="Talking with Configurable Tool").wait_for()
    assert "Configured and ready." in page.locator('[data-testid="bot"]').first.inner_text()
