"""The graphs family: the graph format, its balance, distances, and lesson 19's checks."""

from collections import deque

import pytest
import torch

import toyhelpers as th


def parse(text: str) -> tuple[dict[str, set[str]], str, str, str]:
    """The graph, s, t and the answer, read back from a decoded sequence."""
    body, query = text.removeprefix("BOS ").split(" Q ")
    graph: dict[str, set[str]] = {}
    for edge in body.split(" , "):
        u, v = edge.split()
        graph.setdefault(u, set()).add(v)
        graph.setdefault(v, set()).add(u)
    s, t, _, answer, *pad = query.split()
    assert set(pad) <= {"PAD"}
    return graph, s, t, answer


def shortest(graph: dict[str, set[str]], s: str, t: str) -> str:
    """Breadth-first search written apart from the task's (dictionaries and a queue)."""
    seen, queue = {s: 0}, deque([s])
    while queue:
        u = queue.popleft()
        for v in graph.get(u, ()):
            if v not in seen:
                seen[v] = seen[u] + 1
                queue.append(v)
    return str(seen[t]) if t in seen else "INF"


def test_format_and_positions():
    task = th.get_task("graph")
    assert task.vocab == [str(i) for i in range(6)] + [",", "Q", "=", "INF", "BOS", "PAD"]
    batch = task.generate(300, seed=0)
    tokens, pos = batch.tokens, task.answer_pos(batch.tokens)
    assert tokens.shape == (300, task.seq_len) and (tokens[:, 0] == task.token_id("BOS")).all()
    rows = torch.arange(300)
    assert (tokens[rows, pos - 3] == task.token_id("Q")).all()
    assert batch.scored.sum(1).eq(1).all() and batch.scored[rows, pos + 1].all()
    after = torch.arange(task.seq_len)[None] > (pos + 1)[:, None]
    assert (tokens[after] == task.token_id("PAD")).all()
    assert not (tokens[~after] == task.token_id("PAD")).any()


def test_answers_are_shortest_paths():
    task = th.get_task("graph")
    tokens = task.generate(400, seed=1).tokens
    for row, d in zip(tokens, task.distance(tokens), strict=True):
        graph, s, t, answer = parse(task.decode(row))
        assert s != t and answer == shortest(graph, s, t)
        assert answer == ("INF" if d == -1 else str(d.item()))
    s, t = task.endpoints(tokens)
    assert (task.distances(tokens)[torch.arange(400), t] == task.distance(tokens)).all()


def test_no_graph_repeats_an_edge():
    task = th.get_task("graph")
    for row in task.generate(200, seed=2).tokens:
        body = task.decode(row).removeprefix("BOS ").split(" Q ")[0]
        edges = [frozenset(edge.split()) for edge in body.split(" , ")]
        assert len(set(edges)) == len(edges) and all(len(e) == 2 for e in edges)


def test_answers_are_balanced_and_edge_counts_say_nothing():
    from toyhelpers.families.graphs.search import distance_classes

    task = th.get_task("graph")
    tokens = task.generate(10_000, seed=3).tokens
    d = task.distance(tokens)
    classes = distance_classes(task, tokens)
    assert [task.answers[c] for c in classes[:50]] == [
        "INF" if x == -1 else str(x) for x in d[:50].tolist()
    ]
    share = torch.tensor([(d == k).float().mean() for k in (1, 2, 3, -1)])
    assert (share - 0.25).abs().max() < 0.02
    # Each answer's graphs have the same number of edges on average, so counting edges
    # cannot tell a distance-3 graph from a distance-1 one.
    m = (task.answer_pos(tokens) - 3) // 3
    means = torch.tensor([m[d == k].float().mean() for k in (1, 2, 3, -1)])
    assert means.max() - means.min() < 0.1 and m.min() == 3 and m.max() == 6


def test_same_seed_same_graphs():
    task = th.get_task("graph")
    assert torch.equal(task.generate(50, seed=4).tokens, task.generate(50, seed=4).tokens)
    assert not torch.equal(task.generate(50, seed=4).tokens, task.generate(50, seed=5).tokens)


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(n_nodes=4, max_edges=7), "more edges than 4 nodes allow"),
        (dict(max_distance=6), "max_distance must be at most n_nodes - 1 = 5"),
        (dict(max_edges=2), "max_edges must be at least 3"),
        (dict(n_nodes=10, max_edges=45, max_distance=9), None),
        (dict(n_nodes=11), "n_nodes must be an int"),
        (dict(nodes=5), "no setting"),
    ],
)
def test_bad_settings_are_explained(settings, message):
    if message is None:
        th.get_task("graph", **settings)  # the largest graph still fits the context
        return
    with pytest.raises(ValueError, match=message):
        th.get_task("graph", **settings)


def test_metrics_break_accuracy_down_by_distance():
    task = th.get_task("graph")
    batch = task.generate(500, seed=6)
    rows, pos = torch.arange(500), task.answer_pos(batch.tokens)
    logits = torch.zeros(500, task.seq_len, task.d_vocab)
    logits[rows, pos, batch.tokens[rows, pos + 1]] = 1.0
    far = task.distance(batch.tokens) == 3
    logits[rows[far], pos[far], 0] = 2.0  # wrong on every distance-3 graph
    metrics = task.metrics(logits, batch)
    assert metrics["accuracy_distance_1"] == 1.0 and metrics["accuracy_distance_inf"] == 1.0
    assert metrics["accuracy_distance_3"] == 0.0
    assert metrics["accuracy"] == pytest.approx(1 - far.float().mean().item())


def test_rewiring_moves_one_edge_and_changes_the_answer():
    from toyhelpers.families.graphs.search import edge_list, edge_positions, rewire_one_edge

    task = th.get_task("graph")
    tokens = task.generate(300, seed=7).tokens
    corrupt, moved, ok = rewire_one_edge(task, tokens, seed=0)
    assert ok.float().mean() > 0.95
    before, after = edge_list(task, tokens)[0], edge_list(task, corrupt)[0]
    rows = torch.arange(300)
    changed = (before != after).any(-1)
    assert (changed.sum(1)[ok] == 1).all() and changed[rows[ok], moved[ok]].all()
    assert (task.distance(corrupt) != task.distance(tokens))[ok].all()
    positions = edge_positions(moved)
    assert (corrupt[rows[:, None], positions] != tokens[rows[:, None], positions]).any(1)[ok].all()
    for row in corrupt[ok][:100]:
        graph, s, t, answer = parse(task.decode(row))
        assert answer == shortest(graph, s, t)


def test_uniform_graphs_are_the_skewed_data_the_generator_avoids():
    from toyhelpers.families.graphs.search import uniform_graph_distances

    task = th.get_task("graph")
    d = uniform_graph_distances(task, 3000, seed=0)
    assert (d == -1).float().mean() > 0.3 and (d == 3).float().mean() < 0.15
    assert (d > 3).any()  # uniform graphs even go beyond what the task answers


def test_probe_tools_find_a_linear_label_and_not_noise():
    from toyhelpers.families.graphs.search import (
        correct_answers,
        probe_accuracy,
        reachability_probes,
        residuals_at_answer,
    )

    gen = torch.Generator().manual_seed(0)
    X = torch.randn(800, 16, generator=gen)
    assert probe_accuracy(X, X[:, 3] > 0) > 0.95
    assert abs(probe_accuracy(X, torch.rand(800, generator=gen) > 0.5) - 0.5) < 0.1
    run = th.get_recipe("graph_stage1").build()
    model, task = run.model, run.task
    model.task = task
    tokens = task.generate(200, seed=8).tokens
    residuals = residuals_at_answer(model, tokens)
    assert residuals.shape == (model.cfg.n_layers + 1, 200, model.cfg.d_model)
    assert correct_answers(model, tokens).shape == (200,)
    s, _ = task.endpoints(tokens)
    table = reachability_probes(residuals, task.adjacency(tokens), s, [1])
    assert table.shape == (model.cfg.n_layers + 1, 1) and ((table >= 0.3) & (table <= 1)).all()


def test_answer_probes_read_each_class_that_is_there_and_only_that():
    from toyhelpers.families.graphs.search import answer_probes

    gen = torch.Generator().manual_seed(1)
    classes = torch.randint(0, 4, (1200,), generator=gen)
    noise = torch.randn(1200, 8, generator=gen)
    # Layer 0 holds nothing; layer 1 holds classes 0 and 1 apart from the rest; layer 2 all.
    holds = torch.stack(
        [
            noise,
            noise + 6 * torch.nn.functional.one_hot(classes.clamp(max=2), 8).float(),
            noise + 6 * torch.nn.functional.one_hot(classes, 8).float(),
        ]
    )
    table = answer_probes(holds, classes)
    assert table.shape == (3, 4)
    assert table[2].min() > 0.95 and table[1, :2].min() > 0.95
    assert table[1, 2:].mean() < 0.65  # 2 and 3 look the same there: about half each
    assert table[0].mean() < 0.4  # noise: chance is 0.25 per class


# -- the checks: one explained mistake each (tests/contracts/test_checks.py) -------------


def _read_one_late(model, tokens):
    from toyhelpers.families.graphs.search import distance_classes

    rows, pos = torch.arange(len(tokens)), model.task.answer_pos(tokens)
    with torch.no_grad():
        right = model(tokens)[rows, pos + 1].argmax(-1) == tokens[rows, pos + 1]
    classes = distance_classes(model.task, tokens)
    return torch.stack([right[classes == c].float().mean() for c in range(4)])


def _walks_of_exactly_k(adjacency, source, k):
    reached = torch.nn.functional.one_hot(source, adjacency.shape[-1]).float()
    for _ in range(k):
        reached = torch.einsum("bn,bnm->bm", reached, adjacency.float())
    return reached > 0


def _no_further_than_t(adjacency, source, target):
    from toyhelpers.families.graphs.tasks import bfs

    dist = bfs(adjacency, source)
    return (dist >= 0) & (dist <= dist.gather(1, target[:, None]))


def _kept_rate(model, clean, corrupted, positions, layer):
    from toyhelpers.families.graphs.checks import _patched_answers

    rows, pos = torch.arange(len(clean)), model.task.answer_pos(clean)
    patched = _patched_answers(model, clean, corrupted, positions, layer)
    return (patched == clean[rows, pos + 1]).float().mean().item()


MISTAKES = {
    "check_accuracy_by_distance": (_read_one_late, "answer token's own position"),
    "check_reachable_within": (_walks_of_exactly_k, "exactly k edges"),
    "check_on_shortest_path": (_no_further_than_t, "right distance from t"),
    "check_follow_rate": (_kept_rate, "stays the clean graph's"),
}


def test_shortest_path_nodes_match_a_separate_search():
    from toyhelpers.families.graphs.checks import _on_shortest_path

    task = th.get_task("graph")
    tokens = task.generate(100, seed=12).tokens
    adjacency, (s, t) = task.adjacency(tokens), task.endpoints(tokens)
    on = _on_shortest_path(adjacency, s, t)
    for b, row in enumerate(tokens):
        graph, s_, t_, d = parse(task.decode(row))
        nodes = {v for v in map(str, range(task.n_nodes))}
        want = set()
        if d != "INF":
            want = {
                v
                for v in nodes
                if shortest(graph, s_, v) != "INF"
                and shortest(graph, v, t_) != "INF"
                and int(shortest(graph, s_, v)) + int(shortest(graph, v, t_)) == int(d)
            }
        assert {str(v) for v in on[b].nonzero().flatten().tolist()} == want
