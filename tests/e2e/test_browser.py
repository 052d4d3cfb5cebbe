"""A user in a real browser: chat and watch the answer stream, stop, start over, switch personality,
override settings. Screenshots of each test land in test-artifacts/."""

import re
import time

import pytest

from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


# The text a user reads in each AI bubble, without the subtle facts line (<sub>) under it.
_BOT_TEXTS = """els => els.map(el => {
    const copy = el.cloneNode(true);
    copy.querySelectorAll('sub').forEach(s => s.remove());
    document.body.appendChild(copy);
    const text = copy.innerText;
    copy.remove();
    return text.trim();
})"""


def bot_texts(page):
    return page.locator('[data-testid="bot"]').evaluate_all(_BOT_TEXTS)


def send(page, text):
    """Type and send, then wait until the message is in the discussion (on a loaded machine a
    click can land while the page is still busy with the previous event)."""
    box = page.get_by_placeholder("Type your message")
    box.fill(text)
    page.get_by_role("button", name="Send").click()
    page.locator('[data-testid="user"]', has_text=text[:40]).last.wait_for(timeout=60_000)


def wait_idle(page, timeout=60):
    """Until the answer stops changing (the generation ended)."""
    deadline, last, stable = time.monotonic() + timeout, None, 0
    while time.monotonic() < deadline:
        now = bot_texts(page)
        waiting = any("⏳" in text for text in now)  # queued or thinking: not started yet
        stable = stable + 1 if now == last and not waiting else 0
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


def test_an_empty_or_blank_message_is_not_sent(page):
    box = page.get_by_placeholder("Type your message")
    for text in ("", "   \n\t  "):
        box.fill(text)
        page.get_by_role("button", name="Send").click()
        page.get_by_text("Type a message first.").first.wait_for()
    time.sleep(1)  # nothing arrives later either
    assert page.locator('[data-testid="user"]').count() == 0
    assert len(bot_texts(page)) == 1  # only the welcome message


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
    # the answer has begun (on a loaded machine the first token can take a while)
    page.wait_for_function(
        "(() => { const b = [...document.querySelectorAll('[data-testid=bot]')];"
        " return b.length >= 2 && b[b.length - 1].innerText.trim().length > 3"
        " && !b[b.length - 1].innerText.includes('⏳'); })()",
        timeout=60_000,
    )
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


def user_texts(page):
    users = page.locator('[data-testid="user"]')
    return [users.nth(i).inner_text().strip() for i in range(users.count())]


def test_reopen_an_old_discussion_from_the_sidebar(page):
    set_override(page, n_predict=6)
    send(page, "Remember the word pineapple.")
    wait_idle(page)
    page.get_by_role("button", name="New discussion").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=user]').length === 0")
    send(page, "A second topic.")
    wait_idle(page)
    old = page.get_by_role("radio", name=re.compile("Remember the word pineapple"))
    new = page.get_by_role("radio", name=re.compile("A second topic"))
    new.wait_for(timeout=60_000)  # the sidebar list refreshes after the answer
    assert new.is_checked() and not old.is_checked()
    old.check()
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=user]')].some(e => e.innerText.includes('pineapple'))"
    )
    assert user_texts(page) == ["Remember the word pineapple."]
    assert len(bot_texts(page)) == 2 and bot_texts(page)[1]
    # this browser keeps its discussions across a reload (its id lives in localStorage)
    page.reload()
    page.get_by_role("button", name="Send").wait_for()
    page.get_by_role("radio", name=re.compile("A second topic")).wait_for()
    assert page.get_by_role("radio", name=re.compile("Remember the word pineapple")).count() == 1
    # delete one, after confirming
    page.get_by_role("radio", name=re.compile("A second topic")).check()
    page.get_by_text("This discussion").click()
    page.get_by_role("button", name="Delete discussion").click()
    page.get_by_text("and all its messages for good?").wait_for()
    page.get_by_role("button", name="Yes, delete it").click()
    page.get_by_role("radio", name=re.compile("A second topic")).wait_for(state="detached")
    assert page.locator("#discussion-list").get_by_role("radio").count() == 1
    # and another browser (a fresh context, its own storage) sees none of them
    other = page.context.browser.new_context()
    try:
        stranger = other.new_page()
        stranger.goto(page.url)
        stranger.get_by_role("button", name="Send").wait_for()
        stranger.locator('[data-testid="bot"]').first.wait_for()
        assert stranger.locator("#discussion-list").get_by_role("radio").count() == 0
    finally:
        other.close()


def test_regenerate_step_through_versions_and_edit(page):
    set_override(page, n_predict=5, temperature="1.0")
    send(page, "Name an animal.")
    first = wait_idle(page)[-1]
    page.locator('[data-testid="bot"]').last.hover()
    page.get_by_role("button", name="Retry").last.click()
    page.locator("#version-label").get_by_text("2/2").wait_for()
    second = wait_idle(page)[-1]
    assert len(bot_texts(page)) == 2  # a new version, not a new message
    page.locator("#version-prev").click()
    page.locator("#version-label").get_by_text("1/2").wait_for()
    assert wait_idle(page)[-1] == first
    page.locator("#version-next").click()
    page.locator("#version-label").get_by_text("2/2").wait_for()
    assert wait_idle(page)[-1] == second
    # edit the answer by hand: it changes in place and says so
    page.locator('[data-testid="bot"]').last.hover()
    page.get_by_role("button", name="Edit").last.click()
    box = page.locator("#chat textarea").last
    box.fill("A red panda.")
    page.get_by_role("button", name="Submit").last.click()
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=bot]')].some(e => e.innerText.includes('edited'))"
    )
    assert bot_texts(page)[-1] == "A red panda."
    # thumbs up: stored, and said in the answer's facts line
    page.locator('[data-testid="bot"]').last.hover()
    page.get_by_role("button", name="Like").last.click()
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=bot] sub')].some(e => e.innerText.includes('👍'))"
    )
