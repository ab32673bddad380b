"""Checks for 18_code_tracing: each compares the learner's function with a reference on the
shipped `code_trace` model and a fixed batch of its programs."""

from __future__ import annotations

import functools

import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.analysis import patch_positions_hook
from toyhelpers.checks import ExerciseFailed, as_number, assert_number, assert_tensor, exercise
from toyhelpers.families.programs.tasks import trace
from toyhelpers.families.programs.tracing import ROLES, answers, change_root, role_positions

# -- references ------------------------------------------------------------------------


def _accuracy_by_root_line(model, tokens: Int[Tensor, "batch seq"]) -> Float[Tensor, " line"]:
    task = model.task
    correct = answers(model, tokens) == tokens[:, -1]
    _, _, root = trace(tokens.cpu(), task.n_vars)
    root = root.to(tokens.device)
    return torch.stack([correct[root == line].float().mean() for line in range(task.n_lines)])


def _first_assignment_accuracy(tokens: Int[Tensor, "batch seq"]) -> float:
    return (tokens[:, 3] == tokens[:, -1]).float().mean().item()


def _follow_rate(
    model,
    clean: Int[Tensor, "batch seq"],
    corrupt: Int[Tensor, "batch seq"],
    layer: int,
    positions: Int[Tensor, " batch"],
) -> float:
    with torch.no_grad():
        _, cache = model.run_with_cache(corrupt)
    name = f"blocks.{layer}.hook_resid_pre"
    hooks = [(name, patch_positions_hook(cache[name], positions))]
    return (answers(model, clean, hooks) == corrupt[:, -1]).float().mean().item()


def _hop_attention(
    pattern: Float[Tensor, "batch head query key"],
    query: Int[Tensor, " batch"],
    key: Int[Tensor, " batch"],
) -> Float[Tensor, " head"]:
    rows = torch.arange(len(query), device=pattern.device)
    return pattern[rows, :, query, key].mean(0)


# -- fixed cases -------------------------------------------------------------------------


@functools.cache
def _shipped():
    from toyhelpers.checkpoints import load_pretrained

    return load_pretrained("code_trace")


@functools.cache
def _pairs() -> tuple[Tensor, Tensor]:
    """Depth-2 programs and the same programs with another root digit."""
    model = _shipped()
    tokens = model.task.generate(400, seed=18).tokens
    _, depth, _ = trace(tokens, model.task.n_vars)
    clean = tokens[depth == 2][:128]
    return clean, change_root(model.task, clean, seed=1)


# -- checks ----------------------------------------------------------------------------


@exercise("accuracy_by_root_line", reference=_accuracy_by_root_line)
def check_accuracy_by_root_line(fn) -> None:
    """fn(model, tokens) -> the model's accuracy on the programs whose root is on each line."""
    model = _shipped()
    tokens = model.task.generate(300, seed=7).tokens
    got = fn(model, tokens)
    want = _accuracy_by_root_line(model, tokens)
    correct = answers(model, tokens) == tokens[:, -1]
    _, _, root = trace(tokens, model.task.n_vars)
    share = torch.stack([(correct & (root == i)).float().mean() for i in range(len(want))])
    assert_tensor(
        got,
        want,
        "accuracy_by_root_line(model, tokens)",
        dims="line",
        mistakes=[
            (
                share,
                "you divided by every program: the accuracy on a line is the right answers "
                "among the programs whose root is on that line, over how many those are",
            )
        ],
    )


@exercise("first_assignment_accuracy", reference=_first_assignment_accuracy)
def check_first_assignment_accuracy(fn) -> None:
    """fn(tokens) -> how often the first line's digit is the answer."""
    task = _shipped().task
    for seed in (0, 1):
        tokens = task.generate(500, seed=seed).tokens
        what = f"first_assignment_accuracy(tokens) (seed {seed})"
        got = as_number(fn(tokens), what)
        want = _first_assignment_accuracy(tokens)
        query = tokens[:, -2]
        first_of_query = []
        for row, q in zip(tokens.tolist(), query.tolist(), strict=True):
            lines = [i for i in range(task.n_lines) if row[1 + 4 * i] == q]
            first_of_query.append(row[3 + 4 * lines[0]] == row[-1])
        if abs(got - want) > 1e-6 and abs(got - sum(first_of_query) / len(tokens)) < 1e-6:
            raise ExerciseFailed(
                f"{what} = {got:.3f}: that is the first assignment of the queried variable; "
                "the shortcut is the first assignment of the program, line 0's digit"
            )
        assert_number(got, want, what, tol=1e-6)


@exercise("follow_rate", reference=_follow_rate)
def check_follow_rate(fn) -> None:
    """fn(model, clean, corrupt, layer, positions) -> the fraction of clean programs that
    answer the corrupted root digit when the residual stream entering `layer` at
    `positions[b]` comes from the corrupted program."""
    model = _shipped()
    clean, corrupt = _pairs()
    rows = torch.arange(len(clean))
    _, depth, root = trace(clean, model.task.n_vars)
    root_value = 4 * root + 3
    for layer in range(model.cfg.n_layers):
        what = f"follow_rate(model, clean, corrupt, layer={layer}, positions=root value)"
        got = as_number(fn(model, clean, corrupt, layer, root_value), what)
        want = _follow_rate(model, clean, corrupt, layer, root_value)
        if abs(got - want) > 1e-6:
            with torch.no_grad():
                _, cache = model.run_with_cache(corrupt)
            name = f"blocks.{layer}.hook_resid_pre"

            def hook(x, hook, name=name, cache=cache):
                x = x.clone()
                x[rows, root_value] = cache[name][rows, root_value]
                return x

            stayed = (answers(model, clean, [(name, hook)]) == clean[:, -1]).float().mean()
            if abs(got - stayed.item()) < 1e-6:
                raise ExerciseFailed(
                    f"{what} = {got:.3f}: you counted the programs that kept the clean "
                    "answer; count those whose answer became the corrupted root digit"
                )
        assert_number(got, want, what, tol=1e-6)


@exercise("hop_attention", reference=_hop_attention)
def check_hop_attention(fn) -> None:
    """fn(pattern, query, key) -> [head]: each head's mean attention from position
    `query[b]` to position `key[b]`, over the programs b."""
    model = _shipped()
    clean, _ = _pairs()
    positions = role_positions(model.task, clean)
    with torch.no_grad():
        _, cache = model.run_with_cache(clean, names_filter=lambda n: n.endswith("hook_pattern"))
    for layer in range(model.cfg.n_layers):
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"]
        for q, k in ((4, 0), (7, 0), (7, 4)):
            what = f"hop_attention(layer {layer} pattern, {ROLES[q]}, {ROLES[k]})"
            got = fn(pattern, positions[:, q], positions[:, k])
            want = _hop_attention(pattern, positions[:, q], positions[:, k])
            swapped = _hop_attention(pattern, positions[:, k], positions[:, q])
            assert_tensor(
                got,
                want,
                what,
                dims="head",
                mistakes=[
                    (
                        swapped,
                        "query and key are swapped: pattern is [batch head query key], and a "
                        "position attends only to itself and earlier ones",
                    )
                ],
            )
