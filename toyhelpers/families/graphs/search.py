"""Reading a graph model: its answers, the reachable sets a breadth-first search would
build, probes for those sets layer by layer, and edge patching. Used in lesson 19."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.families.graphs.tasks import UNREACHABLE, Graph, bfs, shortest_distance


def answers(
    model, tokens: Int[Tensor, "batch seq"], fwd_hooks: Sequence[tuple[str, Any]] = ()
) -> Int[Tensor, " batch"]:
    """The model's answer token for each graph (read at its `=`), with optional hooks."""
    task: Graph = model.task
    rows, pos = torch.arange(len(tokens), device=tokens.device), task.answer_pos(tokens)
    with torch.no_grad(), model.hooks(fwd_hooks=list(fwd_hooks)):
        logits = model(tokens)
    return logits[rows, pos].argmax(-1)


def correct_answers(model, tokens: Int[Tensor, "batch seq"]) -> Bool[Tensor, " batch"]:
    """Whether the model's answer is the true distance, per graph."""
    rows, pos = torch.arange(len(tokens), device=tokens.device), model.task.answer_pos(tokens)
    return answers(model, tokens) == tokens[rows, pos + 1]


def distance_classes(task: Graph, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, " batch"]:
    """Each graph's answer as a class: distance d is d - 1, INF is max_distance."""
    d = task.distance(tokens)
    return torch.where(d == UNREACHABLE, task.max_distance, d - 1)


def residuals_at_answer(
    model, tokens: Int[Tensor, "batch seq"]
) -> Float[Tensor, "layer batch d_model"]:
    """The residual stream at each graph's `=`, entering every layer and after the last
    (`n_layers + 1` rows: row L is what layer L reads, the last row what the unembedding
    reads)."""
    names = [f"blocks.{i}.hook_resid_pre" for i in range(model.cfg.n_layers)]
    names.append(f"blocks.{model.cfg.n_layers - 1}.hook_resid_post")
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    rows, pos = torch.arange(len(tokens), device=tokens.device), model.task.answer_pos(tokens)
    return torch.stack([cache[n][rows, pos] for n in names])


def _held_out_predictions(
    X: Float[Tensor, "rows d_model"], y: Int[Tensor, " rows"], train: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """A logistic-regression probe fitted on the first `train` share of the rows: the
    held-out labels and its predictions for them (None when either part has one class)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = np.asarray(X.float().cpu()), np.asarray(y.cpu()).astype(int)
    cut = int(train * len(y))
    if len(np.unique(y[:cut])) < 2 or len(np.unique(y[cut:])) < 2:
        return None
    # Standardised features: the residual stream's scale varies by layer, and lbfgs on the
    # raw stream hit its iteration limit on later layers.
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    probe.fit(X[:cut], y[:cut])
    return y[cut:], probe.predict(X[cut:])


def probe_accuracy(
    X: Float[Tensor, "rows d_model"], y: Bool[Tensor, " rows"], *, train: float = 0.75
) -> float:
    """Held-out balanced accuracy of a logistic-regression probe for `y` from `X` (0.5 is
    chance; a label that never varies gives 0.5)."""
    from sklearn.metrics import balanced_accuracy_score

    fitted = _held_out_predictions(X, y, train)
    return 0.5 if fitted is None else float(balanced_accuracy_score(*fitted))


def answer_probes(
    residuals: Float[Tensor, "layer batch d_model"],
    classes: Int[Tensor, " batch"],
    *,
    train: float = 0.75,
) -> Float[Tensor, "layer answer"]:
    """For each layer's residual stream, a linear probe for the answer class (see
    `distance_classes`): the share of held-out graphs of each class it names right. Where
    the model's own answer would need layers it has not run yet, the probe fails too."""
    n_classes = int(classes.max()) + 1
    table = torch.zeros(len(residuals), n_classes)
    for layer, X in enumerate(residuals):
        fitted = _held_out_predictions(X, classes, train)
        if fitted is None:
            continue
        truth, guess = fitted
        for c in range(n_classes):
            table[layer, c] = float((guess[truth == c] == c).mean())
    return table


# -- edge patching -----------------------------------------------------------------------


def rewire_one_edge(
    task: Graph, tokens: Int[Tensor, "batch seq"], seed: int = 0
) -> tuple[Int[Tensor, "batch seq"], Int[Tensor, " batch"], Bool[Tensor, " batch"]]:
    """For each graph, the same graph with one edge moved so that the answer changes.

    Returns the corrupted tokens, the index of the moved edge, and which graphs got one
    (`ok`): for a reachable t the moved edge is one of its shortest path's edges, taken to
    a pair of nodes that leaves t at another distance the task can answer (1..max_distance
    or INF); for an unreachable t it is any edge, taken to a pair that joins t to s's
    component within max_distance. Only the two node tokens of that edge change.
    """
    gen = torch.Generator().manual_seed(seed)
    tokens = tokens.cpu()
    out, moved = tokens.clone(), torch.zeros(len(tokens), dtype=torch.long)
    ok = torch.zeros(len(tokens), dtype=torch.bool)
    m, (s, t), d = (task.answer_pos(tokens) - 3) // 3, task.endpoints(tokens), task.distance(tokens)
    inf = task.token_id("INF")
    for b, row in enumerate(tokens.tolist()):
        edges = [(row[1 + 3 * j], row[2 + 3 * j]) for j in range(int(m[b]))]
        present = {frozenset(e) for e in edges}
        pairs = [
            divmod(p, task.n_nodes) for p in torch.randperm(task.n_nodes**2, generator=gen).tolist()
        ]
        for j in torch.randperm(len(edges), generator=gen).tolist():
            rest = present - {frozenset(edges[j])}
            for u, v in pairs:
                if u == v or frozenset((u, v)) in rest:
                    continue
                new = shortest_distance({tuple(e) for e in rest} | {(u, v)}, int(s[b]), int(t[b]))
                if new != d[b] and (new == UNREACHABLE or 1 <= new <= task.max_distance):
                    out[b, 1 + 3 * j], out[b, 2 + 3 * j] = u, v
                    out[b, task.answer_pos(tokens[b : b + 1])[0] + 1] = inf if new < 0 else new
                    moved[b], ok[b] = j, True
                    break
            if ok[b]:
                break
    return out, moved, ok


def edge_list(
    task: Graph, tokens: Int[Tensor, "batch seq"]
) -> tuple[Int[Tensor, "batch edge 2"], Bool[Tensor, "batch edge"]]:
    """The node pair in every edge slot, and which slots hold a real edge (slots past a
    graph's last edge read node 0 to 0 and are not real)."""
    m = (task.answer_pos(tokens) - 3) // 3
    real = torch.arange(task.max_edges, device=tokens.device)[None] < m[:, None]
    pairs = torch.stack(
        [tokens[:, 1::3][:, : task.max_edges], tokens[:, 2::3][:, : task.max_edges]], -1
    )
    return torch.where(real[..., None], pairs, 0), real


def edge_positions(moved: Int[Tensor, " batch"]) -> Int[Tensor, "batch 2"]:
    """The positions of edge `moved[b]`'s two node tokens."""
    return torch.stack([1 + 3 * moved, 2 + 3 * moved], dim=1)


# -- probing the reachable sets ----------------------------------------------------------


def reachability_probes(
    residuals: Float[Tensor, "layer batch d_model"],
    adjacency: Bool[Tensor, "batch node node"],
    source: Int[Tensor, " batch"],
    ks: Sequence[int],
) -> Float[Tensor, "layer k"]:
    """For each residual-stream layer and each k, the held-out balanced accuracy of linear
    probes for "node v is within k edges of `source`", averaged over the nodes v (one
    probe per node; the source itself is left out: it is always within reach)."""
    n = adjacency.shape[1]
    table = torch.zeros(len(residuals), len(ks))
    dist = bfs(adjacency, source)
    for j, k in enumerate(ks):
        within = (dist >= 0) & (dist <= k)
        for layer, X in enumerate(residuals):
            scores = [probe_accuracy(X[source != v], within[source != v, v]) for v in range(n)]
            table[layer, j] = sum(scores) / n
    return table


def uniform_graph_distances(task: Graph, n: int, seed: int = 0) -> Int[Tensor, " batch"]:
    """Distances from s to t in `n` graphs drawn without balancing: as many edges as the
    task draws, each edge a uniform pair of nodes, s and t uniform (UNREACHABLE when t
    is out of reach). What a generator that does not balance would show a model."""
    gen = torch.Generator().manual_seed(seed)
    pairs = [(u, v) for u in range(task.n_nodes) for v in range(u + 1, task.n_nodes)]
    out = torch.empty(n, dtype=torch.long)
    for b in range(n):
        m = int(torch.randint(task.max_distance, task.max_edges + 1, (1,), generator=gen))
        chosen = torch.randperm(len(pairs), generator=gen)[:m].tolist()
        s, t = torch.randperm(task.n_nodes, generator=gen)[:2].tolist()
        out[b] = shortest_distance({pairs[i] for i in chosen}, s, t)
    return out
