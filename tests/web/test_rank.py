"""Passages and BM25 on a small corpus."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from gradio_app.web.extract import PageText
from gradio_app.web.rank import BM25, rank_passages, split_passages, terms

CORPUS = [
    "the cat sat on the mat",
    "dogs and cats are friends",
    "the stock market fell sharply today",
    "a cat and a dog played in the garden with another cat",
]


def test_terms_drop_stop_words_split_numbers_and_fold_plurals():
    assert terms("The Cities of Paris: 21mm boxes, classes and bosses in 2024!") == [
        "city",
        "paris",
        "21",
        "mm",
        "box",
        "class",
        "boss",
        "2024",
    ]


def test_bm25_matches_the_formula_on_a_tiny_corpus():
    docs = [terms(d) for d in CORPUS]
    bm25 = BM25(docs, k1=1.5, b=0.75)
    n, df = 4, 3  # "cat" is in documents 0, 1 and 3
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    avgdl = sum(map(len, docs)) / n
    tf, dl = 2, len(docs[3])
    expected = idf * tf * 2.5 / (tf + 1.5 * (1 - 0.75 + 0.75 * dl / avgdl))
    assert math.isclose(bm25.score(["cat"], 3), expected)
    assert bm25.score(["market"], 0) == 0.0


def test_bm25_ranks_the_relevant_document_first():
    bm25 = BM25([terms(d) for d in CORPUS])
    scores = bm25.scores(terms("why did the stock market fall"))
    assert max(range(4), key=scores.__getitem__) == 2
    assert scores[0] == scores[1] == scores[3] == 0
    cat_scores = bm25.scores(terms("cat"))
    assert cat_scores[3] > cat_scores[0] > 0  # two mentions beat one (documents of similar length)


def test_a_rare_term_weighs_more_than_a_common_one():
    bm25 = BM25([terms(d) for d in CORPUS])
    assert bm25.idf("garden") > bm25.idf("cat") > 0


TEXT = (
    "Opening line.\n"
    "The Kessin lighthouse was built in 1874. It is 38 metres tall. Its light flashes every seven seconds.\n"
    "Unrelated words about bread and flour and water and yeast.\n"
)


def test_passages_are_exact_slices_of_the_page_text():
    passages = split_passages(TEXT, page=2, max_words=12)
    assert [p.text for p in passages] == [
        "Opening line.",
        "The Kessin lighthouse was built in 1874. It is 38 metres tall.",
        "Its light flashes every seven seconds.",
        "Unrelated words about bread and flour and water and yeast.",
    ]
    assert all(TEXT[p.start : p.end] == p.text and p.page == 2 for p in passages)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .!?\n\t"), max_size=400), st.integers(min_value=1, max_value=30))
def test_passages_always_are_slices_within_the_word_limit(text, max_words):
    for p in split_passages(text, max_words=max_words):
        assert text[p.start : p.end] == p.text and p.text.strip() == p.text and p.text
        assert len(p.text.split()) <= max_words


def _pages():
    return [
        PageText("Bread", "http://a/", "Sourdough needs flour, water and patience. A starter lives for weeks.", "page"),
        PageText("Lighthouse", "http://b/", TEXT, "page"),
    ]


def test_rank_passages_picks_the_relevant_passages_first_within_the_budget():
    ranked = rank_passages(_pages(), "how tall is the Kessin lighthouse", lambda t: len(t.split()), 1000)
    assert ranked[0].passage.page == 1 and "38 metres" in ranked[0].passage.text
    assert all(r.score > 0 for r in ranked)
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    tight = rank_passages(_pages(), "how tall is the Kessin lighthouse", lambda t: len(t.split()), 15, max_words=12)
    assert "38 metres" in tight[0].passage.text and sum(r.n_tokens for r in tight) <= 15


def test_rank_passages_falls_back_to_each_page_opening_when_nothing_matches():
    ranked = rank_passages(_pages(), "quantum chromodynamics", lambda t: 1, 100)
    assert [(r.passage.page, r.passage.start) for r in ranked] == [(0, 0), (1, 0)]


def test_rank_passages_is_deterministic_and_handles_nothing():
    pages = _pages() * 2  # identical pages tie: reading order decides
    first = rank_passages(pages, "lighthouse flour", lambda t: 1, 100)
    assert first == rank_passages(pages, "lighthouse flour", lambda t: 1, 100)
    assert rank_passages([], "x", len, 100) == [] and rank_passages(_pages(), "x", len, 0) == []
