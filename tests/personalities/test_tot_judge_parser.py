"""The Tree of Thoughts judge parser on realistic model verdicts (many seen from SmolLM2-135M)."""

import pytest

from tests.personalities.scripts import load_script

tot = load_script("english/thinking/tree_of_thoughts")

CANDIDATES = [
    "A town can reduce traffic jams by implementing a smart traffic management system with real-time data.",
    "A community transportation program can create jobs in the rural area affected by highway construction.",
    "One approach is to build bike lanes, which can become a permanent fixture in small towns.",
]

READABLE = [
    # the prefilled form the processor asks for
    ("The best thought is Thought 3: Implementing advanced traffic management systems, such as smart lights", 3),
    ("The best thought is Thought 1: The answer is due to atmospheric absorption and scattering.", 1),
    ("The best thought is Thought 2, because it is the most concrete.", 2),
    ("The best thought is Thought #2.", 2),
    ("The best thought is Thought  3\nReason: it builds on the idea.", 3),
    # the two-line form
    ("Best: 2\nReason: it is the most concrete.", 2),
    ("**Best:** 1\n**Reason:** it is specific.", 1),
    ("Best thought: 3", 3),
    ("best = 2", 2),
    ("The best one is 1.", 1),
    ("The best option would be option 2 since it is cheap.", 2),
    # choose / pick / select
    ("I choose Thought 2 because it gives a concrete plan.", 2),
    ("I would pick option 3.", 3),
    ("My choice is 1.", 1),
    ("Selected: thought 2", 2),
    ("Winner: Thought 1", 1),
    ("I'd go with candidate 3, as it is practical.", 3),
    ("I prefer the second thought.", 2),
    # thought N is the best
    ("Thought 1 is good, but Thought 3 is the best because it is practical.", 3),
    ("Thought 2 is clearly the best of the three.", 2),
    ("Option 1 seems most useful.", 1),
    ("The third thought is the strongest.", 3),
    ("The first one is better.", 1),
    # most useful ... is N
    ("The most useful thought is Thought 3: A community-focused transportation program...", 3),
    ("The most useful candidate for answering the question is 1. The proposed solution uses light rail", 1),
    ("The most relevant idea is #2.", 2),
    # bare numbers and single mentions
    ("2", 2),
    ("3.", 3),
    ("Thought 2", 2),
    ("  **1**  ", 1),
    ("After weighing them, thought 2 stands out for its clarity.", 2),
    ("`Thought 3`", 3),
    # ordinals and words
    ("The best is the third.", 3),
    ("Best: two", 2),
    ("The best thought is Thought 2nd", 2),
    # case and markup
    ("THE BEST THOUGHT IS THOUGHT 1", 1),
    ("_Best_: *3*", 3),
    # the judge quoted a candidate instead of numbering it
    ("A town can reduce traffic jams by implementing a smart traffic management system with real-time data.", 1),
]

UNREADABLE = [
    "",
    "   ",
    "<number of the thought>\nReason: This is a great answer that provides actionable steps",
    "The best thought is Thought <number of the thought>",
    "A more useful answer would be:\nThought 4: A community-focused transportation program",  # out of range
    "Best: 7",
    "Best: 0",
    "The answer to the question: The sky blue is a result of Earth's atmosphere absorbing light.",
    "Which candidate thought is the most useful for answering the question?",
    "The best approach combines thought 1 and thought 2.",  # two thoughts, no verdict
    "Thought 1 and Thought 3 are both good.",
    "I cannot decide.",
    "None of them answers the question.",
    "The best thought is Thought",
]


@pytest.mark.parametrize(("text", "expected"), READABLE)
def test_readable_verdicts(text, expected):
    parsed = tot.parse_judgement(text, 3, CANDIDATES)
    assert parsed is not None, text
    assert parsed[0] == expected, text


@pytest.mark.parametrize("text", UNREADABLE)
def test_unreadable_verdicts_are_none_not_a_guess(text):
    assert tot.parse_judgement(text, 3, CANDIDATES) is None


def test_the_reason_is_kept():
    _, reason = tot.parse_judgement("Best: 2\nReason: it is the most concrete.", 3)
    assert reason == "it is the most concrete."
    _, reason = tot.parse_judgement("I choose Thought 2 because it gives a plan.", 3)
    assert reason == "it gives a plan."


def test_a_number_beyond_the_candidates_falls_to_a_later_valid_verdict():
    assert tot.parse_judgement("Best: 5. Actually, thought 2 is the best.", 3)[0] == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [(" 2", 2), ("3", 3), (" 1. Implementing advanced traffic", 1), ("Thought 2", 2), (" two", 2), ("#3", 3)],
)
def test_strict_answers(text, expected):
    assert tot.parse_strict(text, 3) == expected


@pytest.mark.parametrize("text", ["", " The answer is", " 4", " 0", "<number>", " Bistake the"])
def test_strict_unreadable(text):
    assert tot.parse_strict(text, 3) is None


def test_fallback_is_deterministic_and_prefers_overlap_then_the_lower_number():
    question = "How can a small town reduce its traffic jams?"
    assert tot.fallback_choice(question, [], CANDIDATES) == 1  # "town", "reduce", "traffic", "jams"
    tie = ["Cats are nice.", "Dogs are nice."]
    assert tot.fallback_choice(question, [], tie) == 1
    assert tot.fallback_choice(question, [], ["", "traffic"]) == 2  # an empty thought never wins
    assert tot.fallback_choice(question, ["bike lanes help"], ["cars", "more bike lanes"]) == 2


def test_thought_cleanup():
    assert tot.clean_thought("Thought 2: Build bike lanes.") == "Build bike lanes."
    assert tot.clean_thought("**Idea:** Build bike lanes.") == "Build bike lanes."
    assert tot.clean_thought("1. Build bike lanes.") == "Build bike lanes."
    assert tot.clean_thought("  Build bike lanes.  ") == "Build bike lanes."
    assert tot.clean_thought("Build bike lanes.\n2. Another idea is buses.") == "Build bike lanes."
    assert tot.clean_thought("Build bike lanes.\nThought 2: buses.") == "Build bike lanes."
    assert tot.clean_thought("Build bike lanes\nand footpaths.") == "Build bike lanes\nand footpaths."
