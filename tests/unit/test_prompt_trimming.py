"""History trimming: the earliest fixed cut point that fits, found without tokenizing the whole
history, and stable from turn to turn so the model's evaluated prefix stays valid."""

import datetime as dt
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from gradio_app.personalities.prompt import ModelPromptInfo, PromptBuilder, Turn, _exchanges, trim_points
from gradio_app.personalities.schema import PersonalityConfig

NOW = dt.datetime(2025, 1, 2, 3, 4, 5)
CONFIG = PersonalityConfig(
    name="T",
    personality_conditioning="You are T.\n",
    user_message_prefix="### User:\n",
    link_text="\n",
    ai_message_prefix="### Assistant:\n",
)


class CountingTokenizer:
    """About 4 bytes a token, like English text; remembers how much text it was asked to count."""

    def __init__(self):
        self.counted_chars = 0

    def __call__(self, text):
        self.counted_chars += len(text)
        return len(text.encode("utf-8")) // 4 + 1


def history(sizes):
    turns = []
    for i, size in enumerate(sizes):
        turns += [Turn("user", f"Question {i}?"), Turn("assistant", f"A{i} " + "x" * size)]
    return turns


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 900), max_size=40), n_ctx=st.sampled_from([256, 512, 1024]))
def test_the_cut_is_the_first_fixed_point_that_fits(sizes, n_ctx):
    count = CountingTokenizer()
    builder = PromptBuilder(count, ModelPromptInfo(n_ctx), "prefixes")
    turns = history(sizes)
    built = builder.build(CONFIG, turns, "Next?", 64, NOW)
    budget = n_ctx - builder.reserve_for_answer(64)
    blocks = _exchanges(turns)
    cuts = trim_points(blocks, builder.trim_step_bytes)
    dropped_blocks = built.dropped_messages // 2
    assert dropped_blocks in cuts
    assert built.n_tokens == count(built.text) and built.n_tokens <= budget
    earlier = [c for c in cuts if c < dropped_blocks]
    if earlier:  # the cut point just before would not have fitted
        kept = [t for b in blocks[earlier[-1] :] for t in b]
        assert count(builder._render(CONFIG, kept, "Next?", NOW)) > budget


def test_the_cut_stays_put_for_many_turns_of_a_long_discussion():
    builder = PromptBuilder(CountingTokenizer(), ModelPromptInfo(1024), "prefixes")
    turns = history([120] * 30)
    starts = []
    for i in range(40):  # 40 more turns, each past the context's limit
        built = builder.build(CONFIG, turns, f"Question {30 + i}?", 64, NOW)
        assert built.dropped_messages > 0
        starts.append(built.dropped_messages)
        turns += [Turn("user", f"Question {30 + i}?"), Turn("assistant", "y" * 120)]
    moves = sum(1 for a, b in itertools.pairwise(starts) if a != b)
    assert moves <= len(starts) // 3  # "fewest that fit" would move at nearly every turn
    assert starts == sorted(starts)


def test_a_long_history_is_not_tokenized_whole():
    count = CountingTokenizer()
    builder = PromptBuilder(count, ModelPromptInfo(4096), "prefixes")
    turns = history([600] * 500)  # ~300 KB of history, about 19 contexts
    built = builder.build(CONFIG, turns, "And now?", 256, NOW)
    assert built.dropped_messages > 0
    whole = sum(len(t.content) for t in turns)
    assert count.counted_chars < whole  # all the counting together reads less than the history once
