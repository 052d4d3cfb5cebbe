"""A user in a real browser: apply a setting, restart without saving and see it gone; save, restart
and see it stay."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import LaunchedApp
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def open_settings(browser, app):
    context = browser.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app.url)
    page.get_by_role("button", name="Send").wait_for()
    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("Override personality parameters").wait_for()
    return context, page


def temperature(page):
    return page.get_by_label("Temperature").first


def test_apply_is_lost_on_restart_and_save_stays(browser, tmp_path):
    data = tmp_path / "data"
    app = LaunchedApp(data)
    try:
        context, page = open_settings(browser, app)
        assert not page.get_by_label("Override personality parameters").is_checked()
        assert temperature(page).input_value() == "0.6"  # the personality's own value, read-only
        sampling = [temperature(page), page.get_by_label("Top-k").first, page.get_by_label("Seed (-1 = random)")]
        assert all(control.is_disabled() for control in sampling)  # impossible to change without override
        page.get_by_label("Override personality parameters").check()
        for control in sampling:
            expect(control).to_be_enabled()
        temperature(page).fill("0.35")
        temperature(page).press("Enter")
        page.get_by_role("button", name="Apply changes").click()
        page.get_by_text("Applied but not saved").wait_for()
        assert page.get_by_text(re.compile(r"user_params\.temperature.*0\.7 → 0\.35")).first.is_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "settings-applied-unsaved.png"), full_page=True)
        context.close()
    finally:
        app.stop()

    app = LaunchedApp(data)  # restart without saving
    try:
        context, page = open_settings(browser, app)
        page.get_by_text("The settings in force are the saved ones").wait_for()
        assert not page.get_by_label("Override personality parameters").is_checked()
        assert temperature(page).input_value() == "0.6"  # gone: back to the personality's
        page.get_by_label("Override personality parameters").check()
        temperature(page).fill("0.35")
        temperature(page).press("Enter")
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Saved.").wait_for()
        page.get_by_text("The settings in force are the saved ones").wait_for()
        context.close()
    finally:
        app.stop()
    assert "temperature: 0.35" in (data / "settings.yaml").read_text()

    app = LaunchedApp(data)  # restart after saving
    try:
        context, page = open_settings(browser, app)
        page.get_by_text("The settings in force are the saved ones").wait_for()
        assert page.get_by_label("Override personality parameters").is_checked()
        assert temperature(page).input_value() == "0.35"  # it stayed
        page.screenshot(path=str(ARTIFACTS / "settings-saved-after-restart.png"), full_page=True)
        context.close()
    finally:
        app.stop()
