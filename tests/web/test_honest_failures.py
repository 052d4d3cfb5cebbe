"""The answers given when the web gives nothing to answer from (no model involved)."""

import pytest

from gradio_app.web.workflow import no_web_answer


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("offline", "cannot be reached from this machine"),
        ("rate_limited", "refusing requests from this machine for now (rate limit)"),
        ("timeout", "did not answer in time"),
        ("empty", "found no results"),
        ("unreadable", "could not read any of them"),
        ("error", "the search failed"),
        ("anything else", "the search failed"),
    ],
)
def test_every_failure_has_an_honest_answer_naming_the_query(kind, says):
    text = no_web_answer(kind, "glass frog size", "details")
    assert says in text and "“glass frog size”" in text and "I will not answer from memory" in text
