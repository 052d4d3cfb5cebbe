import pytest

from gradio_app.generation.params import PARAM_RANGES, GenerationParams, InvalidParams, merge


def test_defaults_are_valid_and_in_range():
    params = GenerationParams()
    for name, (low, high, kind) in PARAM_RANGES.items():
        value = getattr(params, name)
        assert isinstance(value, kind)
        assert low <= value <= high


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", -0.1),
        ("temperature", 2.5),
        ("top_k", -1),
        ("top_p", 1.5),
        ("repeat_penalty", 0.0),
        ("n_predict", 0),
        ("seed", -2),
        ("top_k", 3.5),
        ("temperature", "hot"),
        ("n_predict", True),
    ],
)
def test_out_of_range_or_wrong_type_is_refused_with_its_name(name, value):
    with pytest.raises(InvalidParams, match=name):
        GenerationParams(**{name: value})


def test_whole_floats_become_ints():
    assert GenerationParams(top_k=40.0).top_k == 40
    assert isinstance(GenerationParams(top_k=40.0).top_k, int)


def test_from_personality_reads_model_keys_and_keeps_base_for_missing():
    base = GenerationParams(seed=7, n_predict=100)
    config = {"model_temperature": 0.2, "model_top_k": 5, "model_n_predicts": 64}
    params = GenerationParams.from_personality(config, base)
    assert (params.temperature, params.top_k, params.n_predict, params.seed) == (0.2, 5, 64, 7)
    assert params.top_p == base.top_p


def test_merge_rule_personality_unless_override():
    personality = GenerationParams(temperature=0.1)
    user = GenerationParams(temperature=1.3)
    assert merge(personality, user, override=False) is personality
    assert merge(personality, user, override=True) is user


def test_random_seed_is_resolved_and_fixed_seed_kept():
    assert GenerationParams(seed=123).resolved_seed() == 123
    seeds = {GenerationParams(seed=-1).resolved_seed() for _ in range(20)}
    assert all(0 <= s < 2**31 for s in seeds)
    assert len(seeds) > 1
