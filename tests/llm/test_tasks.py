"""RULER-style task generator: seeded, within the length, facts where they were put."""

import pytest

from selectkit.llm.tasks import TASK_KINDS, make_task, make_tasks, score_answer


def words(text):
    return len(text.split())


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_tasks_fit_the_length_and_hold_their_answers(kind):
    for length in (200, 800):
        task = make_task(kind, length, 0.5, seed=3, count_tokens=words)
        assert task.num_tokens == words(task.prompt) <= length
        assert task.num_tokens > length - 25  # filled up to the length, give or take one sentence
        for answer in task.answers:
            assert answer in task.prompt
        assert score_answer(task, " ".join(task.answers)) == 1.0
        assert score_answer(task, "no idea") == 0.0


def test_same_seed_same_task_other_seed_other_task():
    a = make_task("multi_key", 300, 0.25, seed=1, count_tokens=words)
    assert a == make_task("multi_key", 300, 0.25, seed=1, count_tokens=words)
    assert a.prompt != make_task("multi_key", 300, 0.25, seed=2, count_tokens=words).prompt


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_the_fact_sits_at_its_depth(depth):
    task = make_task("single_needle", 1000, depth, seed=0, count_tokens=words)
    body = task.prompt.split("\n\n")[1]
    where = body.index(task.answers[0]) / len(body)
    assert abs(where - depth) < 0.05


def test_multi_key_asks_for_one_of_several_keys_and_variable_chain_is_ordered():
    task = make_task("multi_key", 400, 0.3, seed=5, count_tokens=words)
    assert task.prompt.count("The special magic number for") == 4 and len(task.answers) == 1
    chain = make_task("variable_tracking", 400, 0.2, seed=5, count_tokens=words)
    positions = [chain.prompt.index(f"VAR {name} =") for name in chain.answers]
    assert positions == sorted(positions)
    assert score_answer(chain, chain.answers[0]) == pytest.approx(1 / 3)


def test_make_tasks_cycles_kinds_and_depths():
    tasks = make_tasks(words, lengths=(300,), per_length=20, depths=(0.1, 0.3, 0.5, 0.7, 0.9), seed=0)
    assert [t.kind for t in tasks[:4]] == list(TASK_KINDS)
    assert [t.depth for t in tasks[:5]] == [0.1, 0.3, 0.5, 0.7, 0.9]
    assert len({(t.kind, t.depth) for t in tasks}) == 20  # every kind at every depth
    assert len({t.prompt for t in tasks}) == 20


def test_bad_task_parameters():
    with pytest.raises(ValueError, match="kind='essay' must be one of"):
        make_task("essay", 300, 0.5, 0, words)
    with pytest.raises(ValueError, match="depth=1.5 must be in"):
        make_task("single_needle", 300, 1.5, 0, words)
    with pytest.raises(ValueError, match="context_length=10 is too short"):
        make_task("single_needle", 10, 0.5, 0, words)
