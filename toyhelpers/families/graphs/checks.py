"""Checks for 19_graphs: each compares the learner's function with a reference, on the
shipped `graph` model or on fixed batches of its task, and explains the usual mistake."""

from __future__ import annotations

import functools

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.analysis import patch_positions_hook
from toyhelpers.checks import (
    ExerciseFailed,
    as_number,
    assert_number,
    assert_tensor,
    exercise,
)
from toyhelpers.families.graphs.search import (
    answers,
    distance_classes,
    edge_positions,
    rewire_one_edge,
)
from toyhelpers.families.graphs.tasks import bfs

# -- references ------------------------------------------------------------------------


def _accuracy_by_distance(model, tokens: Int[Tensor, "batch seq"]) -> Float[Tensor, " answer"]:
    task = model.task
    rows, pos = torch.arange(len(tokens), device=tokens.device), task.answer_pos(tokens)
    right = (answers(model, tokens) == tokens[rows, pos + 1]).float()
    classes = distance_classes(task, tokens)
    return torch.stack([right[classes == c].mean() for c in range(task.max_distance + 1)])


def _reachable_within(
    adjacency: Bool[Tensor, "batch node node"], source: Int[Tensor, " batch"], k: int
) -> Bool[Tensor, "batch node"]:
    dist = bfs(adjacency, source)  # the task's own search, not the exercise's loop
    return (dist >= 0) & (dist <= k)


def _on_shortest_path(
    adjacency: Bool[Tensor, "batch node node"],
    source: Int[Tensor, " batch"],
    target: Int[Tensor, " batch"],
) -> Bool[Tensor, "batch node"]:
    from_s, from_t = bfs(adjacency, source), bfs(adjacency, target)
    d = from_s.gather(1, target[:, None])  # batch 1
    return (from_s >= 0) & (from_t >= 0) & (from_s + from_t == d)


def _patched_answers(
    model,
    receiver: Int[Tensor, "batch seq"],
    donor: Int[Tensor, "batch seq"],
    positions: Int[Tensor, "batch k"],
    layer: int,
) -> Int[Tensor, " batch"]:
    """The model's answers on `receiver` with the residual stream entering `layer`, at each
    row's `positions`, taken from its run on `donor`."""
    name = f"blocks.{layer}.hook_resid_pre"
    with torch.no_grad():
        _, cache = model.run_with_cache(donor, names_filter=lambda n: n == name)
    return answers(model, receiver, [(name, patch_positions_hook(cache[name], positions))])


def _follow_rate(
    model,
    clean: Int[Tensor, "batch seq"],
    corrupted: Int[Tensor, "batch seq"],
    positions: Int[Tensor, "batch k"],
    layer: int,
) -> float:
    rows, pos = torch.arange(len(clean), device=clean.device), model.task.answer_pos(clean)
    patched = _patched_answers(model, clean, corrupted, positions, layer)
    return (patched == corrupted[rows, pos + 1]).float().mean().item()


# -- fixed cases -------------------------------------------------------------------------


@functools.cache
def _shipped():
    from toyhelpers.checkpoints import load_pretrained

    return load_pretrained("graph")


@functools.cache
def _rewired(n: int = 200, seed: int = 19) -> tuple[Tensor, Tensor, Tensor]:
    """Fixed graphs, each with one edge moved so that its answer changes, and the positions
    of the moved edge's two node tokens (only graphs that got a move are kept)."""
    task = _shipped().task
    clean = task.generate(n, seed=seed).tokens
    corrupted, moved, ok = rewire_one_edge(task, clean, seed=seed)
    return clean[ok], corrupted[ok], edge_positions(moved)[ok]


# -- checks ----------------------------------------------------------------------------


@exercise("accuracy_by_distance", reference=_accuracy_by_distance)
def check_accuracy_by_distance(fn) -> None:
    """fn(model, tokens) -> [max_distance + 1]: the fraction of graphs answered right at
    each distance 1..max_distance, then for INF (unreachable t)."""
    model = _shipped()
    task = model.task
    tokens = task.generate(400, seed=5).tokens
    want = _accuracy_by_distance(model, tokens)
    rows, pos = torch.arange(len(tokens)), task.answer_pos(tokens)
    with torch.no_grad():
        late = model(tokens)[rows, pos + 1].argmax(-1) == tokens[rows, pos + 1]
    classes = distance_classes(task, tokens)
    shifted = torch.stack([late[classes == c].float().mean() for c in range(task.max_distance + 1)])
    assert_tensor(
        fn(model, tokens),
        want,
        "accuracy_by_distance(model, tokens)",
        dims="answer",
        mistakes=[
            (
                shifted,
                "you read the answer from the logits at the answer token's own position; the "
                "logits at `=` (task.answer_pos) predict the token after it, the distance",
            ),
            (
                want.roll(1),
                "INF comes first in your tensor: the order is distances 1..max_distance, "
                "then INF (task.answers)",
            ),
        ],
    )


@exercise("reachable_within", reference=_reachable_within)
def check_reachable_within(fn) -> None:
    """fn(adjacency, source, k) -> [batch, node]: which nodes are at most k edges from
    `source` (the source itself included, so k = 0 gives the source alone)."""
    from toyhelpers.tasks import get_task

    task = get_task("graph", n_nodes=8, max_edges=9, max_distance=4)
    tokens = task.generate(200, seed=7).tokens
    adjacency, source = task.adjacency(tokens), task.endpoints(tokens)[0]
    for k in range(5):
        want = _reachable_within(adjacency, source, k)
        walks = torch.nn.functional.one_hot(source, task.n_nodes).float()
        for _ in range(k):
            walks = torch.einsum("bn,bnm->bm", walks, adjacency.float())  # walks of exactly k edges
        fewer = _reachable_within(adjacency, source, max(k - 1, 0))
        no_source = want & ~torch.nn.functional.one_hot(source, task.n_nodes).bool()
        mistakes = []
        if k > 0:
            mistakes.append(
                (
                    walks > 0,
                    f"k={k}: these are the nodes at the end of a walk of exactly k edges; a "
                    "node reached in fewer steps, the source included, must stay in the set "
                    "(keep the old set and add its neighbours)",
                )
            )
        mistakes += [
            (
                no_source,
                f"k={k}: the source is missing; it is 0 edges from itself, so it is within k",
            ),
            (
                fewer,
                f"k={k}: you grew the set k - 1 times; k edges need k rounds of 'add every "
                "neighbour of the set'",
            ),
        ]
        assert_tensor(
            fn(adjacency, source, k),
            want,
            f"reachable_within(adjacency, source, k={k})",
            dims="batch node",
            mistakes=mistakes,
        )


@exercise("on_shortest_path", reference=_on_shortest_path)
def check_on_shortest_path(fn) -> None:
    """fn(adjacency, source, target) -> [batch, node]: the nodes on at least one shortest
    path from source to target (both ends included; none when target is out of reach)."""
    task = _shipped().task
    tokens = task.generate(300, seed=8).tokens
    adjacency, (s, t) = task.adjacency(tokens), task.endpoints(tokens)
    want = _on_shortest_path(adjacency, s, t)
    from_s = bfs(adjacency, s)
    d = from_s.gather(1, t[:, None])
    near = (from_s >= 0) & (from_s <= d)
    assert_tensor(
        fn(adjacency, s, t),
        want,
        "on_shortest_path(adjacency, s, t)",
        dims="batch node",
        mistakes=[
            (
                near,
                "you kept every node no further from s than t is; a node is on a shortest "
                "path only if it is also the right distance from t: dist(s, v) + dist(v, t) "
                "== dist(s, t)",
            )
        ],
    )


@exercise("follow_rate", reference=_follow_rate)
def check_follow_rate(fn) -> None:
    """fn(model, clean, corrupted, positions, layer) -> the fraction of graphs whose answer
    becomes the corrupted graph's when the residual stream entering `layer`, at each row's
    `positions`, comes from the corrupted run."""
    model = _shipped()
    clean, corrupted, positions = _rewired()
    rows, pos = torch.arange(len(clean)), model.task.answer_pos(clean)
    for layer in (0, model.cfg.n_layers - 1):
        what = f"follow_rate(model, clean, corrupted, positions, layer={layer})"
        got = as_number(fn(model, clean, corrupted, positions, layer), what)
        want = _follow_rate(model, clean, corrupted, positions, layer)
        if abs(got - want) > 1e-6:
            patched = _patched_answers(model, clean, corrupted, positions, layer)
            kept = (patched == clean[rows, pos + 1]).float().mean().item()
            backwards = _patched_answers(model, corrupted, clean, positions, layer)
            back = (backwards == corrupted[rows, pos + 1]).float().mean().item()
            if abs(got - kept) < 1e-6:
                raise ExerciseFailed(
                    f"{what} = {got:.4f} is how often the answer stays the clean graph's; the "
                    "follow rate counts the answers that become the corrupted graph's"
                )
            if abs(got - back) < 1e-6:
                raise ExerciseFailed(
                    f"{what} = {got:.4f}: you patched the clean run's activations into the "
                    "corrupted run; run the clean graph and take the activations from the "
                    "corrupted one"
                )
        assert_number(got, want, what, tol=1e-6)
