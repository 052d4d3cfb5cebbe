"""The two prompts of a web-search turn (write a query; answer from numbered passages), and how
they are rendered for the model in use.

Everything that came from outside (the question, the discussion, the pages' text) is user
content: in chat-template form it is neutralized so a page cannot forge "<|im_start|>system"
control tokens. A page can still *say* "ignore your instructions"; the conditioning tells the
model the passages are material to answer from, and the citation check keeps the answer's
references honest whatever the model does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gradio_app.personalities.prompt import ModelPromptInfo, neutralize_markers, render_chat_template
from gradio_app.web.rank import STOPWORDS, terms

Render = Callable[[str, str], str]  # (system text, user text) -> the prompt the model continues

# The worked example is what makes a small model answer from the passages (and sometimes cite).
DEFAULT_CONDITIONING = """You are GPT 4 Internet, an assistant that answers from web search results.
You are given numbered passages from web pages. Answer the question using only the facts in those passages.
After each fact, write the number of its passage in square brackets, like [1] or [2].
If the passages do not contain the answer, say that the search did not find it.
Never invent facts or passage numbers. Keep the answer short.

Example:
Passages:
[1] Honey bees
A honey bee colony has one queen. Worker bees live about six weeks in summer.
[2] Bee facts
The queen lays up to 2,000 eggs a day.
Question: How many eggs does a queen bee lay?
Answer: A queen bee lays up to 2,000 eggs a day [2]. Each colony has only one queen [1]."""
QUERY_SYSTEM = "You write web search queries. You reply with the query only."
HISTORY_CHARS_FOR_QUERY = 1200
MAX_QUERY_WORDS = 12


def approx_tokens(text: str) -> int:
    """A safe over-estimate when no tokenizer is at hand (about 3.5 characters a token)."""
    return len(text) // 3 + 1


def render_plain(system: str, user: str) -> str:
    return f"{system.strip()}\n\n### User:\n{user.strip()}\n### Assistant:\n"


def chat_template_renderer(model: ModelPromptInfo) -> Render:
    """Renders through the model's own chat template (system + one user message)."""
    markers = [m for m in (model.bos_token, model.eos_token) if m]
    template = model.chat_template
    if not template:
        raise ValueError("the model has no chat template")

    def render(system: str, user: str) -> str:
        messages = [
            {"role": "system", "content": neutralize_markers(system.strip(), markers)},
            {"role": "user", "content": neutralize_markers(user.strip(), markers)},
        ]
        text = render_chat_template(template, messages, model.bos_token, model.eos_token)
        if model.adds_bos and model.bos_token and text.startswith(model.bos_token):
            text = text[len(model.bos_token) :]
        return text

    return render


@dataclass(frozen=True)
class PromptShape:
    """What the workflow needs to know about the model to build prompts that fit it."""

    render: Render = render_plain
    count_tokens: Callable[[str], int] = approx_tokens
    context_tokens: int = 2048
    conditioning: str = DEFAULT_CONDITIONING


# Small models answer the question instead of writing a query unless shown what a query is.
QUERY_EXAMPLES = """Question: Who painted the Mona Lisa?
Search query: Mona Lisa painter

Question: When did the Berlin Wall fall and why?
Search query: Berlin Wall fall date reasons

Question: how tall is the eiffel tower in feet
Search query: Eiffel Tower height feet

Question: What do koalas eat?
Search query: koala diet
"""
QUERY_PREFILL = "Search query:"


def query_prompt(question: str, history_text: str) -> tuple[str, str, str]:
    """(system, user, the start of the model's reply). The reply is primed with "Search query:"
    so that even a 135M model continues with keywords, not an answer."""
    history = history_text.strip()
    if len(history) > HISTORY_CHARS_FOR_QUERY:
        history = "…" + history[-HISTORY_CHARS_FOR_QUERY:]
    context = f"The discussion so far (the question may refer to it):\n{history}\n\n" if history else ""
    user = (
        "Write a short web search query (a few keywords) that finds the answer to the last question.\n\n"
        f"{QUERY_EXAMPLES}\n{context}Question: {question.strip()}"
    )
    return QUERY_SYSTEM, user, QUERY_PREFILL


_LABEL = re.compile(r"^(?:\W*(?:web\s+)?(?:search\s+)?query\s*[:\-]|\W*search\s*[:\-]|\W*keywords?\s*[:\-])\s*", re.I)


def clean_query(raw: str, question: str, history_text: str = "", max_chars: int = 200) -> tuple[str, bool]:
    """The model's first usable line as a search query, or (keywords of the question, True) when
    it wrote nothing usable. Usable: it has words, and at least one of them is a word of the
    question or the discussion (a query about something else is the model wandering off)."""
    known = set(terms(question)) | set(terms(history_text))
    for line in raw.splitlines():
        line = _LABEL.sub("", line.strip())
        line = line.strip(" \t\"'`*“”‘’").rstrip(".?!").strip()
        words = line.split()
        if words and set(terms(line)) & known:
            return " ".join(words[:MAX_QUERY_WORDS])[:max_chars].strip(), False
    return question_keywords(question, max_chars), True


def question_keywords(question: str, max_chars: int = 200) -> str:
    words = [w for w in re.findall(r"[\w'’.-]+", question) if w.lower() not in STOPWORDS]
    text = " ".join(words[:MAX_QUERY_WORDS]) or " ".join(question.split()[:MAX_QUERY_WORDS])
    return text[:max_chars].strip()


@dataclass(frozen=True)
class NumberedPassage:
    number: int
    title: str
    text: str


def passage_block(p: NumberedPassage) -> str:
    return f"[{p.number}] {' '.join(p.title.split())}\n{p.text.strip()}"


def answer_prompt(question: str, passages: Sequence[NumberedPassage]) -> str:
    """The user message of the answer prompt (the conditioning is the system message)."""
    blocks = "\n\n".join(passage_block(p) for p in passages)
    last = passages[-1].number if passages else 0
    return (
        f"Web search results, passages [1] to [{last}]:\n\n{blocks}\n\n"
        f"Question: {question.strip()}\n\n"
        "Answer the question using only the passages above, and cite the passage number in square "
        "brackets after each fact, like [1]."
    )
