"""Tree of Thoughts: several candidate thoughts per level, a judged winner, a synthesized answer.

For each of `depth` levels the model writes `breadth` candidate thoughts (each a step, streamed),
then judges which is best at a low temperature. The verdict is read by `parse_judgement`; if it
cannot be read, the judge is asked once more, strictly (only a number). If that fails too, the
winner is chosen by a deterministic rule, never at random (`fallback_choice`):

    the candidate sharing the most distinct content words (4+ letters, not stop words) with the
    question and the thoughts chosen so far; ties go to the lower-numbered candidate. An empty
    candidate never wins while a non-empty one exists.

The winner joins the context of the next level; at the end the chosen thoughts are synthesized
into the answer. The steps show every candidate, the judge's words, the winner and why.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from gradio_app.personalities.processor import Processor as BaseProcessor

JUDGE_PREFILL = "The best thought is Thought"
STRICT_PREFILL = "Number:"

_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
    "5th": 5,
    "6th": 6,
}
_NUM = r"(\d+|first|second|third|fourth|fifth|sixth|one|two|three|four|five|six|[1-6](?:st|nd|rd|th))"
_LABEL = r"(?:thought|candidate|option|idea|choice|answer|number|no\.?|#)"
_GOOD = (
    r"(?:useful|helpful|relevant|promising|important|convincing|accurate|complete|practical|effective"
    r"|insightful|logical|correct|suitable|appropriate)"
)

# Explicit verdicts, strongest first. Each captures the number in group 1.
_VERDICTS = [
    # "Best: 2", "best thought: #2", "The best thought is Thought 3", "best one is 2"
    re.compile(rf"\bbest\s*(?:{_LABEL}|one)?\s*(?:is|:|=|-|would be)?\s*(?:the\s+)?(?:{_LABEL}\s*)?#?\s*{_NUM}\b"),
    # "I choose thought 2", "my pick is 3", "winner: 1", "I would go with option 2"
    re.compile(
        rf"\b(?:choose|chose|chosen|choice|pick|picked|select|selected|prefer|preferred|winner|winning|verdict|go with)"
        rf"\s*(?:is|:|=|-)?\s*(?:the\s+)?(?:{_LABEL}\s*)?#?\s*{_NUM}\b"
    ),
    # "Thought 3 is the best", "option 2 seems most useful", "the second thought is clearly better"
    re.compile(
        rf"\b(?:{_LABEL}\s*#?\s*{_NUM}|(?:the\s+)?{_NUM}\s+(?:{_LABEL}|one))\s*(?:is|was|seems|looks|would be)\s*"
        rf"(?:clearly\s+|definitely\s+)?(?:the\s+)?(?:best|better|strongest|winner|most\s+{_GOOD})"
    ),
    # "The most useful candidate for answering the question is 1"
    re.compile(rf"\bmost\s+{_GOOD}\b[^.\n\d]{{0,60}}?\b(?:is|:)\s*(?:{_LABEL}\s*)?#?\s*{_NUM}\b"),
]
_MENTION = re.compile(rf"\b{_LABEL}\s*#?\s*(\d+)\b")
_BARE = re.compile(rf"^\s*(?:{_LABEL}\s*)?#?\s*(\d+)\s*[.):]?\s*$")
_LEADING = re.compile(r"^\s*(?:thought\s*)?#?\s*(\d+)\b")
_REASON = re.compile(r"\b(?:reason\s*[:\-]|because\b|since\b|as it\b|as this\b)\s*(.+)", re.S | re.I)
_MARKUP = re.compile(r"[*_`~>]+")
_STOP_TEXT = (
    "about above after again also because been before being between both could does doing down during "
    "each from further have having here into itself just more most much must only other over same should "
    "some such than that their them then there these they this those through under until very what when "
    "where which while will with would your yours make made many like well need needs thing things "
)
_STOP_WORDS = frozenset(_STOP_TEXT.split())


@dataclass(frozen=True)
class Verdict:
    choice: int  # 1-based
    reason: str
    method: str  # "judge" | "strict" | "fallback"


def _number(token: str) -> int | None:
    token = token.lower()
    if token.isdigit():
        return int(token)
    return _ORDINALS.get(token)


def _normalize(text: str) -> str:
    return " ".join(_MARKUP.sub(" ", text).split()).lower()


def _reason(text: str) -> str:
    match = _REASON.search(text)
    reason = match.group(1) if match else text
    reason = " ".join(reason.split()).strip(" :-")
    return reason[:300] + ("…" if len(reason) > 300 else "")


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]{4,}", text.lower()) if w not in _STOP_WORDS}


def _similar(a: str, b: str) -> float:
    wa, wb = content_words(a), content_words(b)
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def parse_judgement(text: str, n: int, candidates: list[str] | None = None) -> tuple[int, str] | None:
    """The candidate (1..n) a judge's free-text verdict picks, and its reason; None if unclear."""
    flat = _normalize(text)
    if not flat:
        return None
    for pattern in _VERDICTS:
        for match in pattern.finditer(flat):
            token = next(g for g in match.groups() if g)
            number = _number(token)
            if number is not None and 1 <= number <= n:
                return number, _reason(text)
    bare = _BARE.match(flat)
    if bare and 1 <= int(bare.group(1)) <= n:
        return int(bare.group(1)), ""
    mentioned = {int(m) for m in _MENTION.findall(flat) if 1 <= int(m) <= n}
    if len(mentioned) == 1:
        return mentioned.pop(), _reason(text)
    if candidates:
        # No usable number, but the judge may have quoted the thought it liked.
        scores = [_similar(flat, c) for c in candidates]
        best = max(scores)
        if best >= 0.6 and scores.count(best) == 1:
            return scores.index(best) + 1, _reason(text)
    return None


def parse_strict(text: str, n: int) -> int | None:
    """The answer to "reply with only the number": the first in-range number it starts with."""
    match = _LEADING.match(_normalize(text))
    if match and 1 <= int(match.group(1)) <= n:
        return int(match.group(1))
    words = _normalize(text).split()
    if words and _number(words[0].strip(".,:;)")) is not None:
        number = _number(words[0].strip(".,:;)"))
        if number is not None and 1 <= number <= n:
            return number
    return None


def fallback_choice(question: str, chosen: list[str], candidates: list[str]) -> int:
    """The documented deterministic rule (module docstring). Returns 1..len(candidates)."""
    context = content_words(question + " " + " ".join(chosen))
    scores = [len(content_words(c) & context) if c.strip() else -1 for c in candidates]
    return scores.index(max(scores)) + 1


def clean_thought(text: str) -> str:
    """One thought: without a leading label or number, and without the list the model may go on to write."""
    text = re.split(r"\n\s*(?:\d+[.)]|[-*] |thought\s*\d+\s*:)", text.strip(), maxsplit=1, flags=re.I)[0]
    text = text.strip()
    text = re.sub(r"^(?:\*\*)?(?:thought|idea|next idea)\s*\d*\s*[:.\-]\s*(?:\*\*)?", "", text, flags=re.I)
    text = re.sub(r"^\d+[.)]\s+", "", text)
    return text.strip()


def numbered(items: list[str], label: str = "") -> str:
    return "\n".join(f"{label}{i}: {item or '(empty)'}" if label else f"{i}. {item}" for i, item in enumerate(items, 1))


class Processor(BaseProcessor):
    def run_workflow(self, prompt: str, previous_discussion_text: str, callback) -> str:
        question = prompt.strip()
        depth, breadth = int(self.settings["depth"]), int(self.settings["breadth"])
        chosen: list[str] = []
        tree: list[dict] = []
        self.metadata["tree"] = tree
        for level in range(1, depth + 1):
            with self.step(f"🌳 Level {level} of {depth}") as level_step:
                candidates, ids = [], []
                for i in range(1, breadth + 1):
                    with self.step(f"💭 Thought {level}.{i}") as thought_step:
                        raw = self.generate(
                            self._thought_prompt(question, chosen), int(self.settings["max_thought_tokens"])
                        )
                        text = clean_thought(raw)
                        if not text:
                            thought_step.write("_(the model wrote nothing)_")
                    candidates.append(text)
                    ids.append(thought_step.id)
                verdict, judge_output = self._judge(question, chosen, candidates, level)
                winner = verdict.choice
                self.step_title(ids[winner - 1], f"💭 Thought {level}.{winner} ✅ chosen")
                level_step.title = f"🌳 Level {level} of {depth}: Thought {level}.{winner} chosen"
            chosen.append(candidates[winner - 1])
            tree.append({"level": level, "candidates": candidates, "judge_output": judge_output, **asdict(verdict)})
        answer = self.generate(
            self.chat_prompt(self._summary_request(question, chosen), history=self.history),
            int(self.settings["max_summary_tokens"]),
            stream_to=self.chunk,
        ).strip()
        if not answer:
            answer = "My chosen thoughts:\n\n" + numbered(chosen)
            self.full(answer)
        return answer

    # -- prompts ---------------------------------------------------------------------------------
    def _thought_prompt(self, question: str, chosen: list[str]) -> str:
        if chosen:
            request = (
                f"Question: {question}\n\nIdeas so far:\n{numbered(chosen)}\n\n"
                "Write the next idea: one that builds on the ideas so far and brings the answer further, "
                "in one or two sentences. Write only the idea."
            )
        else:
            request = (
                f"Question: {question}\n\n"
                "Write one idea that helps answer the question, in one or two sentences. Write only the idea."
            )
        return self.chat_prompt(request, history=self.history, max_size=int(self.settings["max_thought_tokens"]))

    def _judge(self, question: str, chosen: list[str], candidates: list[str], level: int) -> tuple[Verdict, str]:
        n = len(candidates)
        names = ", ".join(str(i) for i in range(1, n)) + f" or {n}"
        so_far = f"Ideas chosen so far:\n{numbered(chosen)}\n\n" if chosen else ""
        request = (
            f"Question: {question}\n\n{so_far}Candidate thoughts:\n{numbered(candidates, 'Thought ')}\n\n"
            f"Which candidate thought is the most useful next step for answering the question? Answer with "
            f"the number of the best thought ({names}), then give the reason in one sentence."
        )
        low = float(self.settings["judge_temperature"])
        with self.step(f"⚖️ Judgement of level {level}") as step:
            step.write(JUDGE_PREFILL)
            max_tokens = int(self.settings["max_judgement_tokens"])
            output = JUDGE_PREFILL + self.generate(
                self.chat_prompt(request, max_size=max_tokens) + JUDGE_PREFILL, max_tokens, temperature=low
            )
            parsed = parse_judgement(output, n, candidates)
            method = "judge"
            if parsed is None:
                step.write(f"\n\n_The verdict names no thought from 1 to {n}; asking again, strictly:_\n")
                step.write(STRICT_PREFILL)
                strict = (
                    f"Candidate thoughts:\n{numbered(candidates, 'Thought ')}\n\nWhich thought best helps answer "
                    f'"{question}"? Reply with only its number: {names}.'
                )
                again = self.generate(self.chat_prompt(strict, max_size=4) + STRICT_PREFILL, 4, temperature=0.0)
                output += f"\n[strict] {STRICT_PREFILL}{again}"
                number = parse_strict(again, n)
                if number is not None:
                    parsed, method = (number, "the judge answered the strict question with this number"), "strict"
            if parsed is None:
                number = fallback_choice(question, chosen, candidates)
                parsed = (
                    number,
                    "the judge's verdict could not be read twice, so the fallback rule chose it: the most "
                    "words shared with the question and the ideas so far",
                )
                method = "fallback"
            choice, reason = parsed
            if not candidates[choice - 1].strip() and any(c.strip() for c in candidates):
                choice = fallback_choice(question, chosen, candidates)
                reason, method = "the judge picked an empty thought; the fallback rule chose instead", "fallback"
            if not reason or _similar(reason, candidates[choice - 1]) >= 0.6:
                reason = "the judge gave no reason beyond restating the thought"
            step.write(f"\n\n**Chosen: Thought {level}.{choice}** ({method}): {reason}")
            step.title = f"⚖️ Judgement of level {level}: Thought {level}.{choice} wins"
        return Verdict(choice, reason, method), output

    @staticmethod
    def _summary_request(question: str, chosen: list[str]) -> str:
        return (
            f"Question: {question}\n\nThoughts chosen after careful consideration:\n{numbered(chosen)}\n\n"
            "Using these thoughts, write a clear and complete answer to the question."
        )
