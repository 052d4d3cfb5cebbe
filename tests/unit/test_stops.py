"""The anti-prompt detector: no fragment of a marker is ever emitted, however the text is chunked."""

import itertools
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from gradio_app.generation.stops import StopDetector


def run(markers, chunks):
    detector = StopDetector(markers)
    out = "".join(detector.feed(c) for c in chunks)
    if not detector.stopped:
        out += detector.flush()
    return out, detector


def same_char(a, b):
    return a == b or a.lower() == b.lower()


def first_hit(text, markers):
    """Reference: the marker occurrence that completes first (earliest end), earliest start among
    those; compared character by character."""
    found = []
    for m in markers:
        if not m.strip():
            continue
        for i in range(len(text) - len(m) + 1):
            if all(map(same_char, text[i : i + len(m)], m)):
                found.append((i + len(m), i))
                break
    return min(found)[1] if found else None


def expected_cut(text, markers):
    hit = first_hit(text, markers)
    return text if hit is None else text[:hit]


def chunkings(text, cuts):
    points = sorted({c % (len(text) + 1) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


alphabet = st.sampled_from([*"ab #:\nUuSsEeRr", "é", "İ", "ß", "日"])
marker_text = st.text(alphabet, min_size=1, max_size=6).filter(lambda s: s.strip())


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet, max_size=60),
    markers=st.lists(marker_text, min_size=1, max_size=3),
    cuts=st.lists(st.integers(0, 200), max_size=20),
)
def test_output_is_text_cut_before_first_marker_for_any_chunking(text, markers, cuts):
    out, detector = run(markers, chunkings(text, cuts))
    assert out == expected_cut(text, markers)
    assert detector.stopped == (first_hit(text, markers) is not None)


@settings(max_examples=300, deadline=None)
@given(
    before=st.text(string.ascii_lowercase + " \n", max_size=30),
    after=st.text(string.ascii_letters, max_size=10),
    cuts=st.lists(st.integers(0, 100), max_size=15),
)
def test_no_fragment_of_a_split_marker_is_ever_emitted(before, after, cuts):
    marker = "### User:"
    text = before + marker.swapcase() + after  # case-insensitive match
    detector = StopDetector([marker])
    emitted = ""
    for chunk in chunkings(text, cuts):
        emitted += detector.feed(chunk)
        # at every moment, what was shown is a prefix of the safe text: never a piece of the marker
        assert before.startswith(emitted)
    assert emitted == before
    assert detector.stopped
    assert detector.marker == marker


def test_held_back_text_is_released_when_it_turns_out_not_to_be_a_marker():
    detector = StopDetector(["### User"])
    assert detector.feed("Hello ##") == "Hello "
    assert detector.feed("# Us") == ""
    assert detector.feed("ually") == "### Usually"
    assert detector.flush() == ""
    assert not detector.stopped


def test_flush_releases_a_partial_marker_at_end_of_stream():
    detector = StopDetector(["User:"])
    assert detector.feed("Bye. Us") == "Bye. "
    assert detector.flush() == "Us"


def test_empty_and_blank_markers_are_ignored():
    detector = StopDetector(["", "  ", "\n"])
    assert detector.markers == []
    assert detector.feed("anything\n") == "anything\n"


def test_after_stop_everything_is_swallowed():
    detector = StopDetector(["STOP"])
    assert detector.feed("go stop now") == "go "
    assert detector.feed("more") == ""
    assert detector.flush() == ""
