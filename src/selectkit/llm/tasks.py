"""Long-context retrieval tasks in the style of RULER (Hsieh et al., 2024), generated offline.

Four kinds, each a haystack of plain filler sentences with facts hidden at a chosen depth:

* ``single_needle`` -- one "special magic number" for one key; the question asks for it.
* ``multi_key`` -- needles for several keys (distractors with look-alike keys); the question asks
  for one key's number.
* ``multi_value`` -- several numbers for the same key; the question asks for all of them.
* ``variable_tracking`` -- a chain ``VAR A = 12345 ... VAR B = VAR A ...``; the question asks
  which variables hold the value.

Everything is drawn from a seeded ``random.Random``: the same arguments give the same tasks.
Lengths are in tokens of the final prompt as the model sees it (``count_tokens``), so the caller
passes the tokenizer's count (chat template included); the prompt is filled with as many filler
sentences as fit. Score: the fraction of expected answers found in the generated text
(RULER's ``string_match_all``); 1.0 or 0.0 for the single-answer kinds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

__all__ = ["TASK_KINDS", "Task", "make_task", "make_tasks", "score_answer"]

TASK_KINDS = ("single_needle", "multi_key", "multi_value", "variable_tracking")

_FILLER = [
    "The grass is green and the sky is blue.",
    "A quiet river runs past the old mill at the edge of town.",
    "Most of the shops close early on Sundays.",
    "The library keeps its newspapers for exactly one year.",
    "Children walk to school along the tree-lined avenue.",
    "In autumn the leaves turn yellow, then brown, then fall.",
    "The baker starts work long before the sun comes up.",
    "Trains to the coast leave every hour from the main station.",
    "A small museum displays tools used by farmers a century ago.",
    "The market square fills with stalls every Saturday morning.",
    "Rain is common in spring, and the fields stay muddy for weeks.",
    "An old clock tower chimes at noon and at midnight.",
    "The cafe on the corner serves soup with fresh bread.",
    "Bicycles are the easiest way to cross the narrow streets.",
    "In winter the lake freezes and people skate on it.",
    "The post office moved to a larger building last year.",
    "Gardeners plant tulips in the park every October.",
    "A bridge of grey stone connects the two halves of the village.",
    "The hills to the north are covered in pine forest.",
    "Evening concerts take place in the church during summer.",
    "The school library has a reading room with tall windows.",
    "Fishermen mend their nets on the pier in the afternoon.",
    "The town council meets on the first Monday of each month.",
    "A narrow path leads from the castle ruins down to the beach.",
]
_WORDS = [
    "amber", "arctic", "autumn", "bitter", "bold", "brave", "bright", "calm", "clever", "cold", "crimson", "dark",
    "eager", "early", "fancy", "gentle", "golden", "green", "happy", "hidden", "hollow", "icy", "jolly", "lazy",
    "lively", "lucky", "misty", "noble", "odd", "pale", "proud", "quiet", "rapid", "rough", "rusty", "silent",
    "silver", "sleepy", "smooth", "solid", "swift", "tall", "tiny", "vivid", "warm", "wild", "wise", "young",
]
_NOUNS = [
    "anchor", "badger", "beacon", "canyon", "castle", "cedar", "comet", "falcon", "forest", "garden", "harbor",
    "island", "lantern", "meadow", "mirror", "needle", "orchid", "otter", "pebble", "pepper", "planet", "river",
    "rocket", "saddle", "shadow", "spider", "summit", "thunder", "tiger", "tunnel", "valley", "violin", "walrus",
    "willow", "window", "wizard",
]


@dataclass
class Task:
    """One generated prompt.

    Attributes:
        kind: one of :data:`TASK_KINDS`.
        context_length: the target length in tokens.
        depth: where the (first) fact sits in the haystack, 0 = start, 1 = end.
        prompt: the full user message (haystack + question).
        answers: strings the answer must contain.
        seed: the seed the task was drawn with.
        num_tokens: the prompt's length by ``count_tokens`` (<= ``context_length``).
    """

    kind: str
    context_length: int
    depth: float
    prompt: str
    answers: list[str]
    seed: int
    num_tokens: int

    def as_dict(self) -> dict:
        return asdict(self)


def _key(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS)}-{rng.choice(_NOUNS)}"


def _number(rng: random.Random) -> str:
    return str(rng.randint(1_000_000, 9_999_999))


def _facts(kind: str, rng: random.Random) -> tuple[list[str], str, list[str]]:
    """``(fact sentences (first = the one placed at the depth), question, answers)``."""
    if kind == "single_needle":
        key, value = _key(rng), _number(rng)
        return ([f"The special magic number for {key} is: {value}."],
                f"What is the special magic number for {key} mentioned in the provided text?", [value])
    if kind == "multi_key":
        keys = set()
        while len(keys) < 4:
            keys.add(_key(rng))
        keys = sorted(keys)
        rng.shuffle(keys)
        values = [_number(rng) for _ in keys]
        facts = [f"The special magic number for {k} is: {v}." for k, v in zip(keys, values)]
        return facts, f"What is the special magic number for {keys[0]} mentioned in the provided text?", [values[0]]
    if kind == "multi_value":
        key = _key(rng)
        values = [_number(rng) for _ in range(3)]
        facts = [f"One of the special magic numbers for {key} is: {v}." for v in values]
        return facts, f"What are all the special magic numbers for {key} mentioned in the provided text?", values
    if kind == "variable_tracking":
        names = rng.sample([w.upper()[:5] for w in _NOUNS], 3)
        value = str(rng.randint(10_000, 99_999))
        facts = [f"VAR {names[0]} = {value}."] + [f"VAR {b} = VAR {a}." for a, b in zip(names, names[1:])]
        return (facts, f"Find all variables that are assigned the value {value} in the text above, directly or through other variables.",
                names)
    raise ValueError(f"kind={kind!r} must be one of {list(TASK_KINDS)}")


def _assemble(filler: list[str], facts: list[str], depths: list[float], question: str) -> str:
    sentences = list(filler)
    # Insert from the deepest position so earlier insertions do not shift later ones.
    for fact, depth in sorted(zip(facts, depths), key=lambda fd: -fd[1]):
        sentences.insert(round(depth * len(filler)), fact)
    return ("Below is a long text. Some facts are hidden in it; memorise them.\n\n" + " ".join(sentences)
            + f"\n\nQuestion: {question} Answer briefly.")


def make_task(kind: str, context_length: int, depth: float, seed: int, count_tokens: Callable[[str], int]) -> Task:
    """One task of ``kind`` whose prompt is at most ``context_length`` tokens by ``count_tokens``,
    the (first) fact at ``depth`` in ``[0, 1]``."""
    if kind not in TASK_KINDS:
        raise ValueError(f"kind={kind!r} must be one of {list(TASK_KINDS)}")
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth={depth!r} must be in [0, 1]")
    rng = random.Random(f"{kind}/{context_length}/{depth}/{seed}")
    facts, question, answers = _facts(kind, rng)
    # Chain links must follow the value they refer to; distractors and further values go anywhere.
    if kind == "variable_tracking":
        depths = [depth] + sorted(rng.uniform(depth, 1.0) for _ in facts[1:])
    else:
        depths = [depth] + [rng.random() for _ in facts[1:]]
    # Enough filler for any length: the sentences shuffled, again and again.
    pool: list[str] = []
    while len(pool) < context_length // 4 + len(_FILLER):
        block = list(_FILLER)
        rng.shuffle(block)
        pool += block
    lo, hi = 0, len(pool)
    if count_tokens(_assemble([], facts, depths, question)) > context_length:
        raise ValueError(f"context_length={context_length} is too short for the {kind} question and facts")
    while lo < hi:  # the largest number of filler sentences that fits
        mid = (lo + hi + 1) // 2
        if count_tokens(_assemble(pool[:mid], facts, depths, question)) <= context_length:
            lo = mid
        else:
            hi = mid - 1
    prompt = _assemble(pool[:lo], facts, depths, question)
    return Task(kind, context_length, float(depth), prompt, answers, seed, count_tokens(prompt))


def make_tasks(
    count_tokens: Callable[[str], int],
    *,
    lengths: Sequence[int] = (1024, 2048, 4096, 8192),
    kinds: Sequence[str] = TASK_KINDS,
    per_length: int = 30,
    depths: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    seed: int = 0,
) -> list[Task]:
    """``per_length`` tasks per length; prompt ``i`` has kind ``kinds[i % len(kinds)]`` and depth
    ``depths[i % len(depths)]``, so any few consecutive prompts span the kinds and the depths (with
    4 kinds and 5 depths, 20 prompts hold every pair once)."""
    tasks = []
    for length in lengths:
        for i in range(per_length):
            kind = kinds[i % len(kinds)]
            depth = depths[i % len(depths)]
            tasks.append(make_task(kind, length, depth, seed * 100_003 + i, count_tokens))
    return tasks


def score_answer(task: Task, text: str) -> float:
    """Fraction of ``task.answers`` that occur in the generated ``text``."""
    return sum(a in text for a in task.answers) / len(task.answers)
