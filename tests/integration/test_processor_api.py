"""The processor API contract, through WorkflowRunner with the real model and tiny test personalities
(tests/fixtures/processor_zoo: not shipped)."""

import shutil
import threading
import time
from pathlib import Path

import pytest

from gradio_app.config import DataPaths
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.ui.workflow_view import assistant_messages
from gradio_app.workflows import events as ev
from gradio_app.workflows.runner import WorkflowRunner

pytestmark = pytest.mark.model

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PROCESSOR_ZOO = FIXTURES / "processor_zoo"


@pytest.fixture
def data(tmp_path):
    return DataPaths(tmp_path / "data").ensure()


@pytest.fixture
def zoo_roots(tmp_path):
    """The fixture zoo (trusted, as the built-in one is) and an untrusted user zoo in tmp."""
    trusted = tmp_path / "trusted"
    shutil.copytree(PROCESSOR_ZOO, trusted)
    broken = trusted / "english" / "testing" / "broken_syntax"
    (broken / "scripts").mkdir(parents=True)
    (broken / "config.yaml").write_text(
        "name: Broken\nprocessor_cfg: {custom_workflow: true, api_version: 1}\n", encoding="utf-8"
    )
    (broken / "scripts" / "processor.py").write_text("class Processor(\n", encoding="utf-8")
    untrusted = tmp_path / "user_zoo"
    shutil.copytree(FIXTURES / "untrusted_zoo", untrusted)
    return trusted, untrusted


@pytest.fixture
def runner(service, zoo_roots, data):
    trusted, untrusted = zoo_roots
    return WorkflowRunner(service, Zoo([trusted, untrusted], trusted_roots=[trusted]), paths=data)


def session_for(runner, name, seed=5):
    params = GenerationParams(temperature=0.0, n_predict=64, seed=seed)
    s = ChatSession(personality_id=f"english/testing/{name}", user_params=params, override=True)
    s.new_discussion(runner.zoo.get(s.personality_id))
    return s


def run(runner, session, text):
    return list(runner.run_turn(session, text))


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_every_helper_reaches_the_ui_and_the_stored_metadata(runner, data):
    session = session_for(runner, "steps_demo")
    events = run(runner, session, "everything please")
    done = events[-1]
    assert isinstance(done, ev.Done), events[-1]
    # the answer: chunk() then full() replaced it; the word came from the real model
    assert done.content.startswith("Hello from the settings: ")
    assert len(done.content) > len("Hello from the settings: ")
    meta = done.metadata
    steps = {s["title"]: s for s in meta["steps"]}
    assert list(steps)[:6] == ["Outer (renamed)", "Inner", "Repeat 1", "Repeat 2", "Manual", "an info note"]
    outer, inner = steps["Outer (renamed)"], steps["Inner"]
    assert outer["parent_id"] is None and inner["parent_id"] == outer["id"]
    assert steps["Repeat 2"]["parent_id"] == outer["id"]
    assert steps["Manual"]["parent_id"] is None and "closed by hand" in steps["Manual"]["content"]
    assert all(s["status"] == "done" for s in meta["steps"])
    assert outer["duration_s"] >= inner["duration_s"] > 0
    assert inner["content"].strip()  # the generation streamed into the step
    assert steps["Repeat 2"]["progress"] == {"done": 2, "total": 2, "note": "units"}
    assert [s["kind"] for s in meta["steps"][-3:]] == ["info", "warning", "error"]
    assert "ValueError: handled problem" in meta["steps"][-1]["title"]
    [image] = meta["images"]
    assert Path(image["path"]).is_file() and Path(image["path"]).is_relative_to(data.outputs.resolve())
    assert image["caption"] == "a red square" and image["seed"] == 1
    assert [(s["index"], s["title"]) for s in meta["sources"]] == [(1, "Example"), (2, "Second")]
    assert meta["workflow"] == "scripted" and meta["processor_api_version"] == 1
    assert meta["workflow_data"]["settings"] == {"greeting": "Hello from the settings", "repeats": 2}
    work = Path(meta["workflow_data"]["work_folder"])
    assert work == data.work / "english" / "testing" / "steps_demo"
    assert (work / "note.txt").read_text() == "everything please"
    assert meta["generations"] == 1 and meta["completion_tokens"] > 0 and meta["seeds"] == [5]
    assert meta["stop_reason"] == "done"
    # the live events came in order: start before text before end, for every step
    order = [(type(e).__name__, getattr(e, "step_id", None)) for e in events]
    inner_id = inner["id"]
    assert (
        order.index(("StepStart", inner_id)) < order.index(("StepText", inner_id)) < order.index(("StepEnd", inner_id))
    )
    # stored with the session, and rendered back as nested collapsible steps, answer, image, sources
    stored = session.messages[-1]
    assert stored.content == done.content and stored.metadata == meta
    view = assistant_messages(stored.content, stored.metadata)
    assert view[0]["metadata"]["title"] == "Outer (renamed)" and view[0]["metadata"]["status"] == "done"
    assert view[1]["metadata"]["parent_id"] == outer["id"]
    assert {"role": "assistant", "content": done.content} in view
    assert view[-2]["content"] == {"path": image["path"], "alt_text": "a red square"}
    assert view[-1]["metadata"]["title"] == "📚 Sources (2)"


def test_settings_come_from_config_local(runner):
    personality = runner.zoo.get("english/testing/steps_demo")
    personality.save_local_settings({"greeting": "Bonjour", "repeats": 1})
    done = run(runner, session_for(runner, "steps_demo"), "everything")[-1]
    assert done.content.startswith("Bonjour: ")
    assert [s["title"] for s in done.metadata["steps"]].count("Repeat 1") == 1
    assert "Repeat 2" not in [s["title"] for s in done.metadata["steps"]]


def test_a_bad_saved_setting_is_a_warning_not_a_failure(runner):
    personality = runner.zoo.get("english/testing/steps_demo")
    personality.save_local_config({"repeats": 99})
    done = run(runner, session_for(runner, "steps_demo"), "everything")[-1]
    assert isinstance(done, ev.Done)
    warnings = [s for s in done.metadata["steps"] if s["kind"] == "warning"]
    assert any("repeats" in s["title"] for s in warnings)


def test_previous_discussion_text_and_callback(runner):
    session = session_for(runner, "steps_demo")
    first = run(runner, session, "callback")[-1]
    assert first.content == "direct text"
    history = run(runner, session, "history")[-1]
    assert history.content == "### User:\ncallback\n### Assistant:\ndirect text"


def test_a_processor_that_raises_is_an_error_message_and_the_discussion_goes_on(runner):
    session = session_for(runner, "steps_demo")
    events = run(runner, session, "raise now")
    error = events[-1]
    assert isinstance(error, ev.ErrorOut)
    assert "RuntimeError: boom from the processor" in error.message
    assert session.messages[-1].kind == "error"
    assert session.messages[-1].metadata["steps"][0]["title"] == "About to fail"
    assert session.messages[-1].metadata["steps"][0]["status"] == "done"
    assert run(runner, session, "callback")[-1].content == "direct text"
    # the error is not part of what the next workflow sees
    assert "boom" not in run(runner, session, "history")[-1].content


def test_processor_error_is_shown_as_is(runner):
    error = run(runner, session_for(runner, "steps_demo"), "refuse")[-1]
    assert isinstance(error, ev.ErrorOut) and error.message == "This is a message for the user."


def test_a_hanging_processor_times_out_and_the_user_sees_it(runner):
    session = session_for(runner, "hanger")
    started = time.monotonic()
    events = run(runner, session, "hang")
    assert time.monotonic() - started < 5  # idle_timeout_s: 1.5 in its config.yaml
    error = events[-1]
    assert isinstance(error, ev.ErrorOut)
    assert "no progress for 1.5 s" in error.message
    assert error.metadata["steps"][0]["status"] == "failed"
    assert error.metadata["stop_reason"] == "timeout"
    session.personality_id = "english/testing/steps_demo"
    assert run(runner, session, "callback")[-1].content == "direct text"


def test_a_processor_spinning_in_python_is_interrupted(runner):
    session = session_for(runner, "hanger")
    before = set(threading.enumerate())
    assert isinstance(run(runner, session, "spin")[-1], ev.ErrorOut)
    [spinning] = [t for t in set(threading.enumerate()) - before if t.name.startswith("processor:")]
    spinning.join(5)
    assert not spinning.is_alive(), "the spinning processor thread was not interrupted"


@pytest.mark.parametrize("mode", ["long", "steps-forever"])
def test_stop_ends_the_turn_within_a_second_and_keeps_the_steps(runner, mode):
    session = session_for(runner, "steps_demo")
    stopped_at = None
    events = []
    for event in runner.run_turn(session, mode):
        events.append(event)
        if stopped_at is None and len(of(events, ev.StepText)) + len(of(events, ev.StepEnd)) >= 5:
            stopped_at = time.monotonic()
            session.cancel.set()
    assert stopped_at is not None
    assert time.monotonic() - stopped_at < 1.0
    done = events[-1]
    assert isinstance(done, ev.Done)
    assert done.metadata["stop_reason"] == "cancelled"
    statuses = [s["status"] for s in done.metadata["steps"]]
    assert set(statuses) <= {"done", "cancelled"}
    if mode == "long":  # stopped inside generate(): that step was cut short
        assert statuses[-1] == "cancelled"
    assert session.messages[-1].metadata["steps"] == done.metadata["steps"]
    # the model is free again: the next turn answers
    assert run(runner, session, "callback")[-1].content == "direct text"


def test_add_image_outside_the_outputs_folder_is_refused(runner):
    error = run(runner, session_for(runner, "steps_demo"), "outside")[-1]
    assert isinstance(error, ev.ErrorOut) and "not inside the outputs folder" in error.message


def test_untrusted_code_never_runs_and_the_message_says_how_to_trust(runner, zoo_roots):
    _, untrusted = zoo_roots
    folder = untrusted / "english" / "testing" / "untrusted_probe"
    session = session_for(runner, "untrusted_probe")
    error = run(runner, session, "hi")[-1]
    assert isinstance(error, ev.ErrorOut)
    assert "has not been run" in error.message and ".trusted" in error.message and str(folder) in error.message
    assert not (folder / "scripts" / "imported.flag").exists()
    runner.zoo.get("english/testing/untrusted_probe").trust()
    assert run(runner, session, "hi")[-1].content == "the untrusted code ran"
    assert (folder / "scripts" / "imported.flag").exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad_version", "written for processor API version 99, but this app provides version 1"),
        ("no_version", "add `api_version: 1` under processor_cfg"),
        ("broken_syntax", "syntax error"),
        ("no_class", "must define `class Processor(...)`"),
    ],
)
def test_unusable_processors_are_clear_errors(runner, name, expected):
    session = session_for(runner, name)
    error = run(runner, session, "hi")[-1]
    assert isinstance(error, ev.ErrorOut)
    assert expected in error.message
    assert session.messages[-1].kind == "error"


def test_hooks_rewrite_input_and_output_of_the_default_workflow(runner):
    session = session_for(runner, "hooks")
    done = run(runner, session, "say ok")[-1]
    assert isinstance(done, ev.Done)
    assert done.content.startswith("[hooked] ")
    assert "workflow" not in done.metadata  # the default workflow ran
    error = run(runner, session, "explode")[-1]
    assert isinstance(error, ev.ErrorOut) and "input hook refused" in error.message


def test_the_processor_module_reloads_when_the_file_changes(runner, zoo_roots):
    trusted, _ = zoo_roots
    script = trusted / "english" / "testing" / "steps_demo" / "scripts" / "processor.py"
    session = session_for(runner, "steps_demo")
    assert run(runner, session, "callback")[-1].content == "direct text"
    script.write_text(script.read_text().replace('callback("text")', 'callback("changed")'))
    assert run(runner, session, "callback")[-1].content == "direct changed"


# -- saved with the discussion (the real SQLite store) ---------------------------------------------
@pytest.fixture
def store(tmp_path):
    from gradio_app.discussions.store import DiscussionStore

    s = DiscussionStore(tmp_path / "discussions.sqlite3")
    yield s
    s.close()


def stored_session(runner, store, name):
    session = session_for(runner, name)
    session.attach(store, "user:tester")
    return session


def reopened(session, store):
    again = ChatSession(personality_id=session.personality_id)
    again.attach(store, "user:tester")
    again.open(session.discussion_id)
    return again


def test_steps_images_and_sources_are_saved_and_shown_again_when_reopened(runner, store):
    from gradio_app.ui.render import chat_view

    session = stored_session(runner, store, "steps_demo")
    done = run(runner, session, "everything")[-1]
    assert isinstance(done, ev.Done)
    again = reopened(session, store)
    answer = again.messages[-1]
    assert answer.content == done.content and not answer.incomplete
    assert answer.metadata["steps"] == done.metadata["steps"]
    assert answer.metadata["images"] == done.metadata["images"]
    assert answer.metadata["sources"] == done.metadata["sources"]
    # the reopened view is the view the user had at the end of the turn
    assert chat_view(again) == chat_view(session)
    titles = [m["metadata"]["title"] for m in chat_view(again) if m.get("metadata")]
    assert titles[:2] == ["Outer (renamed)", "Inner"] and titles[-1] == "📚 Sources (2)"


def test_a_stopped_workflow_is_saved_with_its_stopped_steps(runner, store):
    session = stored_session(runner, store, "steps_demo")
    for event in runner.run_turn(session, "long"):
        if isinstance(event, ev.StepText):
            session.cancel.set()
    answer = reopened(session, store).messages[-1]
    assert answer.metadata["stop_reason"] == "cancelled" and not answer.incomplete
    assert answer.metadata["steps"][-1]["status"] == "cancelled"


def test_a_failed_workflow_is_saved_as_an_error_with_its_steps_and_not_sent_to_the_model(runner, store):
    session = stored_session(runner, store, "steps_demo")
    run(runner, session, "raise")
    again = reopened(session, store)
    error = again.messages[-1]
    assert error.kind == "error" and "boom" in error.content
    assert error.metadata["steps"][0]["title"] == "About to fail"
    assert "boom" not in run(runner, again, "history")[-1].content


def test_regenerate_runs_the_workflow_again_and_continue_says_it_does_not_apply(runner, store):
    session = stored_session(runner, store, "steps_demo")
    first = run(runner, session, "callback")[-1]
    again = list(runner.regenerate(session))[-1]
    assert isinstance(again, ev.Done) and again.content == first.content == "direct text"
    assert session.messages[-1].versions == 2
    before = [(m.id, m.content) for m in reopened(session, store).messages]
    refused = list(runner.continue_answer(session))[-1]
    assert isinstance(refused, ev.ErrorOut) and "cannot be continued" in refused.message
    assert [(m.id, m.content) for m in reopened(session, store).messages] == before  # nothing changed
