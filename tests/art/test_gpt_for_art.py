"""GPT for Art on the processor API: the real chat model imagines, the tiny Stable Diffusion paints."""

import shutil
import time
from pathlib import Path

import pytest

from gradio_app.art.outputs import read_facts
from gradio_app.art.watermark import verify_watermark
from gradio_app.config import BUILTIN_ZOO, SD_MODELS_ENV, DataPaths
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.prompt import Turn
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.workflows import events as ev
from gradio_app.workflows.runner import WorkflowRunner
from gradio_app.workflows.scripted import load_processor_class
from tests.art.tiny_sd import build_tiny_pipeline
from tests.personalities.scripts import load_script

PID = "english/art/gpt_for_art"
TINY = {"steps": 3, "width": 64, "height": 64, "guidance_scale": 5.0, "seed": 5, "max_generation_prompt_size": 24}

art = load_script(PID)


def test_history_for_imagining_keeps_descriptions_and_drops_images():
    history = [
        Turn("assistant", "Welcome!", welcome=True),
        Turn("user", "a lighthouse at night ![old](/x/y.png)"),
        Turn(
            "assistant",
            "**Prompt:** a lighthouse at night, stormy sea\n\n_Seed 5 · default · 3 steps · 64×64 · model tiny_",
        ),
        Turn("user", "make it rain"),
        Turn("assistant", "![img](file.png)\nA rainy lighthouse"),
    ]
    assert art.history_for_imagining(history) == [
        Turn("user", "a lighthouse at night"),
        Turn("assistant", "a lighthouse at night, stormy sea"),
        Turn("user", "make it rain"),
        Turn("assistant", "A rainy lighthouse"),
    ]


def test_a_follow_up_asks_to_rewrite_the_previous_description():
    assert art.imagining_request("a red fox", []) == "Describe this picture for a text-to-image AI: a red fox"
    history = [
        Turn("user", "a red fox"),
        Turn(
            "assistant", "**Prompt:** a red fox in deep snow, dusk\n\n_Seed 1 · default · 3 steps · 64×64 · model tiny_"
        ),
    ]
    ask = art.imagining_request("now make it a day view", history)
    assert "a red fox in deep snow, dusk" in ask and "now make it a day view" in ask and "_Seed" not in ask


def test_facts_line_gives_the_painted_and_the_saved_size():
    facts = {"seed": 5, "sampler": "default", "steps": 3, "width": 64, "height": 64, "model": "tiny"}
    same = art.facts_line({**facts, "saved_width": 64, "saved_height": 64})
    assert same == "_Seed 5 · default · 3 steps · 64×64 · model tiny_"
    line = art.facts_line({**facts, "saved_width": 256, "saved_height": 256})
    assert line == "_Seed 5 · default · 3 steps · 64×64, saved as 256×256 for the watermark · model tiny_"
    assert art.description_of(f"**Prompt:** a red fox\n\n{line}") == "a red fox"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Prompt: a red fox in snow", "a red fox in snow"),
        ('"a red fox in snow"', "a red fox in snow"),
        ("**Description:** a red fox,\nsnow, detailed", "a red fox, snow, detailed"),
        ("  a red fox  ", "a red fox"),
        ("![x](y.png) a red fox", "a red fox"),
    ],
)
def test_clean_sd_prompt(raw, clean):
    assert art.clean_sd_prompt(raw) == clean


@pytest.fixture(scope="module")
def sd_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("art-sd") / "sd_models"
    build_tiny_pipeline(folder / "tiny")
    return folder


@pytest.fixture
def setup(service, sd_models, tmp_path, monkeypatch):
    monkeypatch.setenv(SD_MODELS_ENV, str(sd_models))
    root = tmp_path / "zoo"
    shutil.copytree(BUILTIN_ZOO / PID, root / PID)  # a copy: the test writes its config_local.yaml
    zoo = Zoo([root], trusted_roots=[root])
    zoo.get(PID).save_local_settings(TINY)
    data = DataPaths(tmp_path / "data").ensure()
    return WorkflowRunner(service, zoo, paths=data), data


def new_session(runner, seed=3):
    session = ChatSession(
        personality_id=PID, override=True, user_params=GenerationParams(seed=seed, temperature=0.7, n_predict=64)
    )
    session.new_discussion(runner.zoo.get(PID))
    return session


@pytest.mark.model
@pytest.mark.slow
def test_imagine_paint_and_show_then_edit_the_description(setup):
    runner, data = setup
    session = new_session(runner)
    events = list(runner.run_turn(session, "a lighthouse at night"))
    done = events[-1]
    assert isinstance(done, ev.Done), done
    steps = done.metadata["steps"]
    assert [s["title"] for s in steps] == ["🎨 Imagined the picture", "🖌️ Painted the picture with tiny"]
    assert all(s["status"] == "done" for s in steps)
    imagine_id, paint_id = steps[0]["id"], steps[1]["id"]
    assert [e for e in events if isinstance(e, ev.StepText) and e.step_id == imagine_id]  # streamed
    progress = [e for e in events if isinstance(e, ev.StepProgress) and e.step_id == paint_id]
    total = progress[-1].total
    assert [p.done for p in progress] == list(range(1, total + 1))  # every denoising step
    sd_prompt = done.metadata["workflow_data"]["sd_prompt"]
    assert sd_prompt and done.content.startswith(f"**Prompt:** {sd_prompt}")
    [image] = done.metadata["images"]
    path = Path(image["path"])
    assert path.is_file() and path.parent == (data.outputs / "art").resolve()
    assert len(path.stem) >= 24  # unguessable
    assert verify_watermark(path)
    assert read_facts(path)["prompt"] == sd_prompt and image["prompt"] == sd_prompt and image["seed"] == 5
    assert image["caption"] == sd_prompt
    # painted at 64x64, saved at 256x256 so it can carry the watermark: the answer and facts say both
    assert (image["width"], image["height"], image["saved_width"], image["saved_height"]) == (64, 64, 256, 256)
    assert read_facts(path)["saved_width"] == 256
    assert "64×64, saved as 256×256 for the watermark" in done.content

    # the follow-up: the imagining prompt holds the previous description, and a new image comes out
    personality = runner.zoo.get(PID)
    processor = load_processor_class(personality)(
        runner.scripted.context_for(
            personality,
            session,
            runner.params_for(session, personality),
            runner.prompt_builder(session),
            session.history(),
            lambda event: None,
        )
    )
    answer = processor.run_workflow("now make it a day view", "", lambda event: None)
    imagining_prompt = processor.generations[0].prompt
    assert sd_prompt in imagining_prompt and "now make it a day view" in imagining_prompt
    assert "![" not in imagining_prompt and "_Seed" not in imagining_prompt
    assert answer.startswith("**Prompt:** ")
    # (the launched-app test repaints through the UI: tests/ui/test_scripted_app.py)


@pytest.mark.model
@pytest.mark.slow
def test_imagine_off_uses_the_users_words(setup):
    runner, _ = setup
    runner.zoo.get(PID).save_local_settings({**TINY, "imagine": False})
    done = list(runner.run_turn(new_session(runner), "a red fox, watercolour"))[-1]
    assert [s["title"] for s in done.metadata["steps"]] == ["🖌️ Painted the picture with tiny"]
    assert done.metadata["images"][0]["prompt"] == "a red fox, watercolour"
    assert done.metadata["generations"] == 0  # the chat model was not used


@pytest.mark.model
@pytest.mark.slow
def test_stop_while_painting_ends_within_a_second(setup):
    runner, _ = setup
    runner.zoo.get(PID).save_local_settings({**TINY, "imagine": False, "steps": 150})
    session = new_session(runner)
    stopped_at = None
    events = []
    for event in runner.run_turn(session, "a very slow painting"):
        events.append(event)
        if stopped_at is None and isinstance(event, ev.StepProgress) and event.done >= 2:
            stopped_at = time.monotonic()
            session.cancel.set()
    assert stopped_at is not None and time.monotonic() - stopped_at < 1.0
    done = events[-1]
    assert isinstance(done, ev.Done) and done.metadata["stop_reason"] == "cancelled"
    assert done.metadata["steps"][-1]["status"] == "cancelled"
    assert done.metadata["images"] == []


@pytest.mark.model
def test_a_missing_model_says_exactly_where_to_put_one(setup, tmp_path, monkeypatch):
    runner, _ = setup
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setenv(SD_MODELS_ENV, str(empty))
    session = new_session(runner)
    error = list(runner.run_turn(session, "a cat"))[-1]
    assert isinstance(error, ev.ErrorOut)
    assert f"No Stable Diffusion model in {empty}" in error.message
    assert "model_index.json" in error.message and ".safetensors" in error.message
    assert session.messages[-1].kind == "error"
