"""The GPT 4 Internet personality folder and its settings."""

from dataclasses import fields

import pytest
from PIL import Image

from gradio_app.config import BUILTIN_ZOO
from gradio_app.personalities.zoo import Zoo
from gradio_app.web.addresses import AddressPolicy
from gradio_app.web.search import SearxngSearch
from gradio_app.web.settings import InvalidWebSettings, WebSettings

PID = "english/internet/gpt4internet"


@pytest.fixture(scope="module")
def personality():
    zoo = Zoo([BUILTIN_ZOO], trusted_roots=[BUILTIN_ZOO])
    return zoo.get(PID)


def test_it_is_in_the_built_in_zoo_with_a_logo_and_a_privacy_disclaimer(personality):
    assert personality.name == "GPT 4 Internet" and personality.builtin
    assert personality.config.category == "internet" and personality.config.processor_cfg["custom_workflow"] is True
    with Image.open(personality.logo_path) as logo:
        assert logo.size == (256, 256)
    assert "DuckDuckGo" in personality.config.disclaimer
    assert "[1]" in personality.config.personality_conditioning


def test_the_settings_template_declares_every_web_setting_with_the_same_defaults(personality):
    template = personality.config.settings_template
    assert [f.name for f in template.fields] == [f.name for f in fields(WebSettings)]
    assert WebSettings.from_values(template.defaults()) == WebSettings()
    values, problems = personality.local_settings()
    assert problems == [] and WebSettings.from_values(values) == WebSettings()
    assert template.field("allow_private_addresses").default is False


def test_the_2023_config_local_keys_still_work():
    # the original gpt4Internet config_local.yaml: max_query_size, max_summery_size (sic), num_results
    settings = WebSettings.from_values({"max_query_size": 50, "max_summery_size": 300, "num_results": 3, "other": 1})
    assert (settings.max_query_size, settings.max_answer_size, settings.num_results) == (50, 300, 3)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"num_results": 0}, "num_results"),
        ({"region": "Europe"}, "region"),
        ({"safesearch": "strict"}, "safesearch"),
        ({"fetch_timeout_s": -1}, "fetch_timeout_s"),
        ({"allow_private_addresses": "yes"}, "allow_private_addresses"),
        ({"pages_to_read": True}, "pages_to_read"),
        ({"search_backend": "searxng"}, "searxng_url"),  # searxng needs its address
        ({"search_backend": "searxng", "searxng_url": "localhost:8080"}, "searxng_url"),
        ({"searxng_url": 8080}, "searxng_url"),
    ],
)
def test_bad_settings_name_their_field(values, field):
    with pytest.raises(InvalidWebSettings, match=field):
        WebSettings.from_values(values)


def test_settings_build_the_fetcher_and_backend_they_describe():
    settings = WebSettings(max_page_kb=64, fetch_timeout_s=3, allow_private_addresses=True, search_backend="auto")
    fetcher = settings.fetcher()
    assert fetcher.limits.max_bytes == 64 * 1024 and fetcher.limits.total_timeout_s == 3
    assert fetcher.policy == AddressPolicy(allow_private=True)
    assert WebSettings().fetcher().policy == AddressPolicy()
    assert settings.backend().backend == "auto"


def test_searxng_is_chosen_in_the_settings_with_its_address(personality):
    template = personality.config.settings_template
    assert "searxng" in template.field("search_backend").options
    assert template.field("searxng_url").type == "str" and template.field("searxng_url").default == ""
    settings = WebSettings.from_values({"search_backend": "searxng", "searxng_url": "http://localhost:8080/"})
    backend = settings.backend()
    assert isinstance(backend, SearxngSearch) and backend.base_url == "http://localhost:8080"
    # an address kept while another engine is chosen is fine (and unused)
    assert WebSettings(searxng_url="http://localhost:8080").backend().backend == "duckduckgo"
