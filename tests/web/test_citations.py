"""Citations point at passages that exist; the streamed text is the stored text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradio_app.web.citations import (
    CitationFilter,
    SourceRef,
    cited_numbers,
    marker_numbers,
    sources_section,
    supporting_passage,
)
from gradio_app.web.rank import terms

PASSAGES = {
    1: "The Marlow glass frog\nAdult males measure about 21 millimetres from snout to vent.",
    2: "The Kessin lighthouse\nThe Kessin lighthouse was built in 1874 from red brick and is 38 metres tall.",
    3: "Sourdough\nA well fed starter survives about three weeks in the cold.",
}


def run(text: str, attribute: bool = False, pieces: int = 1) -> tuple[str, CitationFilter]:
    f = CitationFilter(PASSAGES, attribute=attribute)
    size = max(1, len(text) // pieces)
    out = "".join(f.feed(text[i : i + size]) for i in range(0, len(text), size)) + f.flush()
    return out, f


@pytest.mark.parametrize(
    ("marker", "numbers"),
    [
        ("[1]", [1]),
        ("[1, 2]", [1, 2]),
        ("[2-4]", [2, 3, 4]),
        ("[Source 3]", [3]),
        ("[passages 1; 2]", [1, 2]),
        ("[x]", None),
        ("[]", None),
        ("[1-100]", None),
        ("[3-1]", None),
        ("[see 1]", None),
        ("[1.5]", None),
    ],
)
def test_marker_forms(marker, numbers):
    assert marker_numbers(marker) == numbers


def test_valid_citations_stay_and_citations_that_point_nowhere_are_dropped():
    out, f = run("The lighthouse was built in 1874 [2]. Frogs [7] are small [1, 9]. Bread [4][3].")
    assert out == "The lighthouse was built in 1874 [2]. Frogs are small [1]. Bread [3]."
    assert f.cited == [2, 1, 3] and f.dropped == [7, 9, 4]
    assert set(cited_numbers(out)) <= set(PASSAGES)


def test_a_dropped_citation_takes_its_space_but_not_the_next_words():
    assert run("Built in 1874 [9] by someone.")[0] == "Built in 1874 by someone."
    assert run("Tall [5].\nNext line")[0] == "Tall.\nNext line"


def test_brackets_that_are_not_citations_pass_through():
    text = "Arrays like a[i] and [see above] or [TODO: check] and an unclosed [1 at the end ["
    assert run(text)[0] == "Arrays like a[i] and [see above] or [TODO: check] and an unclosed [1 at the end ["


def test_a_marker_cut_off_by_the_end_of_generation_is_checked_too():
    assert run("It is 38 metres tall [2")[0] == "It is 38 metres tall [2]"
    assert run("It is 38 metres tall [8")[0] == "It is 38 metres tall"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["The", " lighthouse", " [2]", " [7]", "[1, 9]", ".", " ", "\n", "[", "]", "x", "1", "[Source 3]"]
        ),
        max_size=40,
    ),
    st.integers(min_value=1, max_value=12),
)
def test_streaming_in_any_pieces_gives_the_same_text_as_filtering_at_once(parts, pieces):
    text = "".join(parts)
    whole, f_whole = run(text)
    streamed, f_streamed = run(text, pieces=pieces)
    assert streamed == whole
    assert f_streamed.cited == f_whole.cited and f_streamed.dropped == f_whole.dropped
    assert set(cited_numbers(whole)) <= set(PASSAGES)


def test_an_uncited_sentence_gets_the_passage_that_plainly_contains_it():
    out, f = run("The Kessin lighthouse is 38 metres tall. It was built in 1932 by the Kessin family.", attribute=True)
    assert out == "The Kessin lighthouse is 38 metres tall.[2] It was built in 1932 by the Kessin family."
    assert f.attributed == [2] and f.cited == [2]


def test_no_citation_for_a_sentence_with_a_number_or_name_the_passage_lacks():
    passages = {n: frozenset(terms(t)) for n, t in PASSAGES.items()}
    assert supporting_passage("The Kessin lighthouse was built in 1874.", passages) == 2
    assert supporting_passage("The Kessin lighthouse was built in 1875.", passages) is None
    assert supporting_passage("The Kessin lighthouse was built on the Gulf of Oman.", passages) is None
    assert supporting_passage("Yes.", passages) is None


def test_a_sentence_the_model_cited_is_not_cited_again():
    text = "The Kessin lighthouse is 38 metres tall [2]. Adult males measure about 21 millimetres."
    out, _ = run(text, attribute=True)
    assert out == "The Kessin lighthouse is 38 metres tall [2]. Adult males measure about 21 millimetres.[1]"
    out, _ = run("The Kessin lighthouse is 38 metres tall. [2] More.", attribute=True)
    assert out == "The Kessin lighthouse is 38 metres tall. [2] More."


def test_the_sources_section_lists_cited_pages_once_with_their_numbers():
    refs = [
        SourceRef(1, "Frog [facts]", "http://a.test/frog"),
        SourceRef(2, "Light", "http://b.test/x y"),
        SourceRef(3, "Frog again", "http://a.test/frog"),
    ]
    assert sources_section(refs, [3, 1]) == "**Sources**\n- [1][3] [Frog \\[facts\\]](http://a.test/frog)"
    assert sources_section(refs, []) == (
        "**Sources read** (the answer above cites none of them)\n"
        "- [1][3] [Frog \\[facts\\]](http://a.test/frog)\n- [2] [Light](http://b.test/x%20y)"
    )
    assert sources_section([], []) == ""
