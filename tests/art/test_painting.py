"""Painting with a tiny random-weight Stable Diffusion model loaded like a user's model."""

import threading

import numpy as np
import pytest

from gradio_app.art.models import SdModelMissing, list_models, resolve_model
from gradio_app.art.outputs import read_facts, save_image
from gradio_app.art.painter import SCHEDULERS, Painter, PaintingCancelled
from gradio_app.art.settings import ArtSettings, InvalidArtSettings
from gradio_app.art.watermark import SIGNATURE, apply_watermark, read_watermark, verify_watermark
from tests.art.tiny_sd import build_tiny_pipeline, build_tiny_single_file

pytestmark = pytest.mark.slow

TINY = {"model_name": "tiny", "steps": 3, "width": 64, "height": 64, "guidance_scale": 5.0}


@pytest.fixture(scope="module")
def sd_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sd") / "sd_models"
    build_tiny_pipeline(folder / "tiny")
    build_tiny_single_file(folder / "tiny", folder / "tiny-file.safetensors")
    return folder


@pytest.fixture(scope="module")
def painter():
    return Painter()


def settings(**changes):
    return ArtSettings.from_dict({**TINY, **changes})


def pixels(painted):
    return [np.asarray(p.image) for p in painted]


def test_folder_model_is_found_and_loaded_once(sd_models, painter):
    refs = list_models(sd_models)
    assert [(r.name, r.kind) for r in refs] == [("tiny", "folder"), ("tiny-file.safetensors", "single_file")]
    ref = resolve_model("tiny", sd_models)
    painter.paint(ref, "a lighthouse at night", settings(seed=1))
    loads = painter.loads
    painter.paint(ref, "a lighthouse at day", settings(seed=2))
    assert painter.loads == loads  # the pipeline is kept


def test_a_single_file_model_paints_the_same_pixels_as_its_folder(sd_models, painter):
    """The original-layout .safetensors goes through from_single_file with its local config."""
    ref = resolve_model("tiny-file", sd_models)
    assert ref.kind == "single_file" and ref.config_dir.endswith("tiny-file.config")
    from_file = Painter().paint(ref, "a lighthouse", settings(seed=9))
    from_folder = painter.paint(resolve_model("tiny", sd_models), "a lighthouse", settings(seed=9))
    assert np.array_equal(pixels(from_file)[0], pixels(from_folder)[0])


def test_a_single_file_without_its_config_says_where_the_config_goes(sd_models, tmp_path):
    from gradio_app.art.painter import PaintingFailed

    lonely = tmp_path / "lonely.safetensors"
    lonely.write_bytes((sd_models / "tiny-file.safetensors").read_bytes())
    with pytest.raises(PaintingFailed, match=r"lonely\.config"):
        Painter().paint(resolve_model("lonely", tmp_path), "x", settings())


def test_auto_picks_the_first_model_and_an_empty_folder_says_where_to_put_one(sd_models, tmp_path):
    assert resolve_model("auto", sd_models).name == "tiny"
    with pytest.raises(SdModelMissing, match=f"No Stable Diffusion model in {tmp_path}"):
        resolve_model("auto", tmp_path)


def test_fixed_seed_gives_identical_pixels_and_random_does_not(sd_models, painter):
    ref = resolve_model("tiny", sd_models)
    a = painter.paint(ref, "a red fox", settings(seed=42, num_images=2))
    b = painter.paint(ref, "a red fox", settings(seed=42, num_images=2))
    assert [p.seed for p in a] == [42, 43]
    for x, y in zip(pixels(a), pixels(b), strict=True):
        assert np.array_equal(x, y)
    assert not np.array_equal(pixels(a)[0], pixels(a)[1])  # each image its own seed
    r1 = painter.paint(ref, "a red fox", settings(seed=-1))
    r2 = painter.paint(ref, "a red fox", settings(seed=-1))
    assert r1[0].seed != r2[0].seed


@pytest.mark.parametrize("sampler", ["default", *SCHEDULERS])
def test_every_sampler_paints(sd_models, painter, sampler):
    ref = resolve_model("tiny", sd_models)
    [painted] = painter.paint(ref, "a boat", settings(seed=7, sampler=sampler))
    assert painted.image.size == (64, 64)
    assert np.asarray(painted.image).std() > 0


def test_progress_is_reported_per_step_and_cancel_stops(sd_models, painter):
    ref = resolve_model("tiny", sd_models)
    steps = []
    painter.paint(ref, "a tree", settings(seed=3, steps=4), on_step=lambda i, s, n: steps.append((i, s, n)))
    total = steps[-1][2]
    assert total >= 4  # PNDM (PLMS) runs one warm-up step more
    assert steps == [(0, k, total) for k in range(1, total + 1)]
    cancel = threading.Event()

    def stop_after_first(i, s, n):
        cancel.set()

    with pytest.raises(PaintingCancelled):
        painter.paint(ref, "a tree", settings(seed=3, steps=50), on_step=stop_after_first, cancel=cancel)


def test_saved_images_carry_the_watermark_and_the_facts(sd_models, painter, tmp_path):
    ref = resolve_model("tiny", sd_models)
    images = painter.paint(ref, "a castle", settings(seed=5, num_images=2))
    paths = [save_image(p.image, tmp_path, {"prompt": "a castle", "seed": p.seed, "model": "tiny"}) for p in images]
    assert len({p.name for p in paths}) == 2
    for path, painted in zip(paths, images, strict=True):
        assert len(path.stem) >= 24  # unguessable
        assert verify_watermark(path)
        assert read_facts(path) == {"prompt": "a castle", "seed": painted.seed, "model": "tiny"}


def test_watermark_on_a_large_image_and_absent_on_a_plain_one():
    from PIL import Image

    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 255, (320, 320, 3), dtype=np.uint8))
    assert read_watermark(apply_watermark(noise)) == SIGNATURE
    assert read_watermark(noise) != SIGNATURE
    small = Image.fromarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8))
    marked = apply_watermark(small)
    assert marked.width * marked.height >= 256 * 256
    assert (marked.width / small.width) == (marked.height / small.height)  # whole-factor enlargement


def test_missing_model_message_says_where_to_put_one(tmp_path):
    with pytest.raises(SdModelMissing, match=str(tmp_path)):
        resolve_model("nothing-here", tmp_path)


def test_ckpt_needs_explicit_opt_in(tmp_path):
    (tmp_path / "old.ckpt").write_bytes(b"\x80\x04pickle")
    with pytest.raises(SdModelMissing, match="pickle"):
        resolve_model("old", tmp_path)
    assert resolve_model("old", tmp_path, allow_ckpt=True).kind == "single_file"


def test_incomplete_model_folder_is_a_clear_error(tmp_path, painter):
    from gradio_app.art.painter import PaintingFailed

    broken = tmp_path / "broken"
    broken.mkdir()
    index = '{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}'
    (broken / "model_index.json").write_text(index)
    with pytest.raises(PaintingFailed, match="could not be loaded"):
        painter.paint(resolve_model("broken", tmp_path), "x", settings(model_name="broken"))


@pytest.mark.parametrize(
    ("values", "key"),
    [({"steps": 0}, "steps"), ({"sampler": "magic"}, "sampler"), ({"width": 100}, "width"), ({"seed": "x"}, "seed")],
)
def test_bad_settings_name_their_key(values, key):
    with pytest.raises(InvalidArtSettings, match=key):
        ArtSettings.from_dict(values)


def test_original_zoo_keys_are_understood():
    legacy = {"H": 256, "W": 320, "ddim_steps": 12, "scale": 6.0, "model_name": "x", "sampler_name": "plms"}
    s = ArtSettings.from_dict(legacy)
    assert (s.height, s.width, s.steps, s.guidance_scale) == (256, 320, 12, 6.0)
