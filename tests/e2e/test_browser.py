"""A user in a real browser: chat and watch the answer stream, stop, start over, switch personality,
override settings. Screenshots of each test land in test-artifacts/."""

import time

import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def bot_texts(page):
    bots = page.locator('[data-testid="bot"]')
    return [bots.nth(i).inner_text() for i in range(bots.count())]


def send(page, text):
    page.get_by_placeholder("Type your message").fill(text)
    page.get_by_role("button", name="Send").click()


def wait_idle(page, timeout=60):
    """Until the answer stops changing (the generation ended)."""
    deadline, last, stable = time.monotonic() + timeout, None, 0
    while time.monotonic() < deadline:
        now = bot_texts(page)
        stable = stable + 1 if now == last else 0
        if stable >= 6:
            return now
        last = now
        time.sleep(0.25)
    raise AssertionError("the answer never settled")


def open_tab(page, name):
    page.get_by_role("tab", name=name).click()


def set_override(page, n_predict, temperature="0"):
    open_tab(page, "Settings")
    page.get_by_label("Override personality parameters").check()
    for label, value in (("Max new tokens (n_predict)", str(n_predict)), ("Temperature", temperature)):
        box = page.get_by_label(label).first
        box.fill(value)
        box.press("Enter")
    page.get_by_role("button", name="Apply changes").click()
    page.get_by_text("Applied.").wait_for()
    open_tab(page, "Discussion")


def test_chat_streams_the_answer(page):
    assert "LoLLMs" in bot_texts(page)[0]  # the welcome message opens the discussion
    send(page, "Tell me about the sea.")
    page.locator('[data-testid="user"]').first.wait_for()
    seen = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(seen) < 3:
        texts = bot_texts(page)
        if len(texts) == 2 and texts[1].strip():
            seen.add(texts[1])
        time.sleep(0.05)
    assert len(seen) >= 2, "the answer did not grow in place (no streaming seen)"
    final = wait_idle(page)
    assert len(final) == 2
    assert final[1].strip()


def test_stop_interrupts_a_long_answer(page):
    set_override(page, n_predict=3000, temperature="0.8")
    send(page, "Write a very long story about a dragon, with many chapters.")
    page.wait_for_function("document.querySelectorAll('[data-testid=bot]').length >= 2")
    time.sleep(1.0)
    page.get_by_role("button", name="Stop").click()
    stopped = wait_idle(page, timeout=20)
    assert len(stopped[-1]) > 0
    # 3000 tokens would take half a minute: it stopped, and the partial answer stays
    time.sleep(2)
    assert bot_texts(page) == stopped


def test_new_discussion_starts_with_the_welcome(page):
    set_override(page, n_predict=8)
    send(page, "Hello")
    wait_idle(page)
    page.get_by_role("button", name="New discussion").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=user]').length === 0")
    texts = bot_texts(page)
    assert len(texts) == 1
    assert "LoLLMs" in texts[0]


def test_switch_personality_in_the_zoo(page):
    open_tab(page, "Personalities Zoo")
    page.get_by_label("Personality").first.click()
    page.get_by_role("option", name="gpt4all").click()
    page.get_by_text("This personality is a helpful").wait_for()
    page.get_by_role("button", name="Apply", exact=True).click()
    page.get_by_role("heading", name="Talking with gpt4all").wait_for()
    assert "gpt4all" in bot_texts(page)[0]


def test_override_changes_the_generation(page):
    set_override(page, n_predict=2)
    send(page, "Write a long poem about autumn leaves.")
    final = wait_idle(page)
    assert 0 < len(final[-1].split()) <= 2


def test_screenshots_of_every_tab(page):
    ARTIFACTS.mkdir(exist_ok=True)
    for tab in ("Discussion", "Settings", "Personalities Zoo"):
        open_tab(page, tab)
        time.sleep(0.5)
        path = ARTIFACTS / f"tab-{tab.lower().replace(' ', '-')}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
