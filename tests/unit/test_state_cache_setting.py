"""The state cache budget is a setting: read from settings.yaml, checked, handed to the model load."""

from gradio_app.config import AppSettings
from gradio_app.context import AppContext


def test_the_budget_reaches_the_load_options(tmp_path):
    (tmp_path / "settings.yaml").write_text("state_cache_mb: 64\n", encoding="utf-8")
    ctx = AppContext.create(tmp_path, load_model=False)
    assert ctx.settings.model.state_cache_mb == 64  # the first, flat settings files still load
    assert ctx.load_options().state_cache_bytes == 64 * 2**20


def test_a_bad_budget_is_reported_and_the_default_kept(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("state_cache_mb: -5\n", encoding="utf-8")
    settings, problems = AppSettings.load(path)
    assert settings.model.state_cache_mb == AppSettings().model.state_cache_mb == 512
    assert any("'model.state_cache_mb'" in p and "between 0 and 1048576" in p for p in problems)
