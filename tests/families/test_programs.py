"""The programs family: the code_trace format, its chains and balance, and lesson 18's checks."""

import pytest
import torch

import toyhelpers as th
from toyhelpers.families.programs.tasks import trace


def run_program(text: str) -> int:
    """An interpreter written apart from the task's: Python's own assignment semantics."""
    body, query = text.removeprefix("BOS ").split(" ? ")
    env: dict[str, int] = {}
    for line in body.split(" ; "):
        if line:
            var, value = line.rstrip(" ;").split(" = ")
            env[var] = int(value) if value.isdigit() else env[value]
    return env[query.split()[0]]


def test_format_and_positions():
    task = th.get_task("code_trace")
    assert task.vocab[:10] == [str(d) for d in range(10)]
    assert task.vocab[10:] == ["a", "b", "=", ";", "?", "BOS"]
    batch = task.generate(200, seed=0)
    tokens = batch.tokens
    assert (
        tokens.shape == (200, 4 * task.n_lines + 4) and (tokens[:, 0] == task.token_id("BOS")).all()
    )
    assert (tokens[:, 2 : task.query_pos - 1 : 4] == task.token_id("=")).all()
    assert (tokens[:, 4 : task.query_pos - 1 : 4] == task.token_id(";")).all()
    assert (tokens[:, task.query_pos - 1] == task.token_id("?")).all()
    assert batch.scored[:, -1].all() and not batch.scored[:, :-1].any()
    assert (tokens[:, -1] < 10).all()


def test_answers_follow_value_semantics():
    task = th.get_task("code_trace")
    example = task.encode("BOS a = 3 ; b = a ; a = 5 ; b = b ; ? b 0")
    answer, depth, root = trace(example[None], task.n_vars)
    assert (answer.item(), depth.item(), root.item()) == (3, 3, 0)
    for row in task.generate(300, seed=1).tokens:
        text = task.decode(row)
        assert run_program(text) == row[-1].item(), text


def test_depths_and_root_lines_are_balanced():
    task = th.get_task("code_trace", n_vars=4, n_lines=6, max_depth=3)
    tokens = task.generate(6000, seed=2).tokens
    _, depth, root = trace(tokens, task.n_vars)
    assert depth.min() == 1 and depth.max() == 3
    share = torch.bincount(depth, minlength=4)[1:].float() / len(depth)
    assert (share - 1 / 3).abs().max() < 0.03
    # Every depth's root is uniform over the lines that leave it room; the first line gets
    # no more than its fair share, so "answer with the first assignment" gains nothing.
    for d in (1, 2, 3):
        lines = torch.bincount(root[depth == d], minlength=6)
        assert (lines[6 - d + 1 :] == 0).all()
        fair = (depth == d).sum() / (6 - d + 1)
        assert ((lines[: 6 - d + 1] - fair).abs() < 0.2 * fair).all()


def test_chains_survive_their_distractors():
    task = th.get_task("code_trace", n_vars=2, n_lines=8, max_depth=2)
    for row in task.generate(200, seed=3).tokens:
        assert run_program(task.decode(row)) == row[-1].item()


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(n_lines=80), "longer than the context"),
        (dict(max_depth=5), "max_depth must be at most n_lines=4"),
        (dict(n_vars=2, max_depth=3), "max_depth must be at most n_vars=2"),
        (dict(max_depth=1), "max_depth must be an int >= 2"),
        (dict(depth=2), "no setting"),
    ],
)
def test_bad_settings_are_explained(settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task("code_trace", **settings)


def test_metrics_break_accuracy_down_by_depth_and_root_line():
    task = th.get_task("code_trace")
    batch = task.generate(500, seed=4)
    logits = torch.zeros(500, task.seq_len, task.d_vocab)
    logits[torch.arange(500), task.query_pos, batch.tokens[:, -1]] = 1.0
    metrics = task.metrics(logits, batch)
    assert metrics["accuracy"] == 1.0 and metrics["accuracy_depth_2"] == 1.0
    assert {f"accuracy_root_line_{i}" for i in range(4)} <= set(metrics)


# -- the checks: one explained mistake each (tests/contracts/test_checks.py) -------------


def _share_of_all_programs(model, tokens):
    from toyhelpers.families.programs.tracing import answers

    correct = answers(model, tokens) == tokens[:, -1]
    _, _, root = trace(tokens, model.task.n_vars)
    return torch.stack([(correct & (root == i)).float().mean() for i in range(model.task.n_lines)])


def _first_of_the_queried_variable(tokens):
    hits = []
    for row in tokens.tolist():
        first = next(i for i in range(len(row)) if row[i] == row[-2] and (i - 1) % 4 == 0)
        hits.append(row[first + 2] == row[-1])
    return sum(hits) / len(hits)


def _kept_the_clean_answer(model, clean, corrupt, layer, positions):
    from toyhelpers.families.programs.tracing import answers

    with torch.no_grad():
        _, cache = model.run_with_cache(corrupt)
    name = f"blocks.{layer}.hook_resid_pre"
    rows = torch.arange(len(clean))

    def hook(x, hook):
        x = x.clone()
        x[rows, positions] = cache[name][rows, positions]
        return x

    return (answers(model, clean, [(name, hook)]) == clean[:, -1]).float().mean().item()


def _key_to_query(pattern, query, key):
    rows = torch.arange(len(query))
    return pattern[rows, :, key, query].mean(0)


MISTAKES = {
    "check_accuracy_by_root_line": (_share_of_all_programs, "divided by every program"),
    "check_first_assignment_accuracy": (_first_of_the_queried_variable, "queried variable"),
    "check_follow_rate": (_kept_the_clean_answer, "kept the clean"),
    "check_hop_attention": (_key_to_query, "swapped"),
}
