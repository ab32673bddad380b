"""Shortest-path distances in small undirected graphs (seed problem 3.10). Used in lesson
19 (graphs).

`BOS u v , u v , ... , u v Q s t = d PAD ...`: an edge list, then a query: how many edges
separate node s from node t? The answer d is a digit token, or `INF` when t cannot be
reached from s. Graphs have between `max_distance` and `max_edges` edges, so the
sequences end at different positions and are padded after the answer.

Drawn uniformly, small random graphs almost always put t one or two edges from s, or out
of reach: a model that answers from t's degree or from whether (s, t) is an edge scores
well without ever searching. So the generator first draws the answer, uniformly over
`1..max_distance` and `INF`, then builds a graph with exactly that distance: a path of d
edges from s to t through random nodes (or, for `INF`, two components that split s from
t), then random extra edges that keep the distance what it is. The number of edges is
drawn the same way for every answer, so counting them says nothing. Importing this
module needs torch only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.tasks import Batch, Task, int_setting, register

MAX_CONTEXT = 256
SPECIALS = [",", "Q", "=", "INF", "BOS", "PAD"]
UNREACHABLE = -1  # how `distances` marks a node out of reach


@register("graph")
@dataclass(frozen=True)
class Graph(Task):
    """`BOS u v , ... , u v Q s t = d`, the shortest-path distance from s to t (or `INF`),
    with the answer balanced over `1..max_distance` and `INF`; only `d` is scored.

    Token ids: the nodes `"0".."n_nodes-1"` are 0..n_nodes-1 (a distance d is the token of
    node d), then `,`, `Q`, `=`, `INF`, `BOS`, `PAD`. Edge j sits at positions `1 + 3j`
    and `2 + 3j`; a graph of m edges puts `Q s t = d` at positions `3m .. 3m + 4`.
    """

    description = "shortest path: BOS 0 1 , 1 2 , 5 3 Q 0 2 = 2 (INF when unreachable)"

    n_nodes: int = int_setting(6, 3, 10)
    max_edges: int = int_setting(6, 2)
    max_distance: int = int_setting(3, 1)

    def __post_init__(self) -> None:
        super().__post_init__()
        most = self.n_nodes * (self.n_nodes - 1) // 2
        if self.max_edges > most:
            raise ValueError(
                f"max_edges={self.max_edges} is more edges than {self.n_nodes} nodes allow: "
                f"a simple undirected graph on them has at most {most}"
            )
        if self.max_distance > self.n_nodes - 1:
            raise ValueError(
                f"max_distance must be at most n_nodes - 1 = {self.n_nodes - 1} (a shortest "
                f"path visits each node once), got {self.max_distance}"
            )
        if self.max_distance > self.max_edges:
            raise ValueError(
                f"max_distance={self.max_distance} needs at least that many edges: max_edges "
                f"must be at least {self.max_distance}, got {self.max_edges}"
            )
        if self.seq_len > MAX_CONTEXT:
            raise ValueError(
                f"max_edges={self.max_edges} makes sequences of {self.seq_len} tokens, longer "
                f"than the context of {MAX_CONTEXT}: max_edges must be at most "
                f"{(MAX_CONTEXT - 5) // 3}"
            )

    @property
    def nodes(self) -> list[str]:
        return [str(i) for i in range(self.n_nodes)]

    @property
    def vocab(self) -> list[str]:
        return self.nodes + SPECIALS

    @property
    def seq_len(self) -> int:
        return 3 * self.max_edges + 5

    @property
    def answers(self) -> list[str]:
        """The possible answers, in the order the generator balances them."""
        return [str(d) for d in range(1, self.max_distance + 1)] + ["INF"]

    # -- generation ------------------------------------------------------------------------
    def _graph(self, rng: random.Random) -> tuple[list[tuple[int, int]], int, int, int]:
        """Edges, s, t and the distance (UNREACHABLE for INF) of one balanced graph."""
        n = self.n_nodes
        d = rng.randint(1, self.max_distance + 1)
        d = UNREACHABLE if d > self.max_distance else d
        m = rng.randint(self.max_distance, self.max_edges)
        while True:  # the answer and the edge count stay fixed while a graph is retried
            order = rng.sample(range(n), n)
            if d == UNREACHABLE:
                # s's component: order[:k], t's: order[k:]; each may get any edge inside.
                k = rng.randint(1, n - 1)
                s, t = order[0], order[-1]
                side = {v: i < k for i, v in enumerate(order)}
                edges: set[tuple[int, int]] = set()
                allowed = [(u, v) for u in range(n) for v in range(u + 1, n) if side[u] == side[v]]
                if len(allowed) < m:
                    continue
                edges = set(rng.sample(allowed, m))
            else:
                path = order[: d + 1]
                s, t = path[0], path[-1]
                edges = {tuple(sorted(pair)) for pair in zip(path, path[1:], strict=False)}
                candidates = [
                    (u, v) for u in range(n) for v in range(u + 1, n) if (u, v) not in edges
                ]
                rng.shuffle(candidates)
                for edge in candidates:
                    if len(edges) == m:
                        break
                    if shortest_distance(edges | {edge}, s, t) == d:
                        edges.add(edge)
                if len(edges) < m:
                    continue
            listed = [(u, v) if rng.random() < 0.5 else (v, u) for u, v in sorted(edges)]
            rng.shuffle(listed)
            return listed, s, t, d

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        # One draw from the torch generator seeds Python's: the batch stays a pure function
        # of the seed, and the graph building below stays readable.
        rng = random.Random(int(torch.randint(0, 2**62, (1,), generator=gen).item()))
        comma, query, equals, inf, bos, pad = (self.token_id(t) for t in SPECIALS)
        tokens = torch.full((n, self.seq_len), pad, dtype=torch.long)
        scored = torch.zeros(n, self.seq_len, dtype=torch.bool)
        for row in range(n):
            edges, s, t, d = self._graph(rng)
            ids = [bos]
            for j, (u, v) in enumerate(edges):
                ids += [u, v] if j == 0 else [comma, u, v]
            ids += [query, s, t, equals, inf if d == UNREACHABLE else d]
            tokens[row, : len(ids)] = torch.tensor(ids)
            scored[row, len(ids) - 1] = True
        return Batch(tokens.to(device), scored.to(device))

    # -- reading a batch back ---------------------------------------------------------------
    def answer_pos(self, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, " batch"]:
        """The position of each sequence's `=`, whose logits give the answer."""
        return (tokens == self.token_id("=")).int().argmax(-1)

    def adjacency(self, tokens: Int[Tensor, "batch seq"]) -> Bool[Tensor, "batch node node"]:
        """Each sequence's graph as a symmetric adjacency matrix."""
        n, batch = self.n_nodes, len(tokens)
        m = (self.answer_pos(tokens) - 3) // 3  # `Q` sits at 3m
        first, second = tokens[:, 1::3][:, : self.max_edges], tokens[:, 2::3][:, : self.max_edges]
        real = torch.arange(self.max_edges, device=tokens.device)[None] < m[:, None]
        adj = torch.zeros(batch, n, n, dtype=torch.bool, device=tokens.device)
        rows = torch.arange(batch, device=tokens.device)[:, None].expand_as(first)
        adj[rows[real], first[real], second[real]] = True
        return adj | adj.transpose(1, 2)

    def endpoints(self, tokens: Int[Tensor, "batch seq"]) -> tuple[Int[Tensor, " batch"], ...]:
        """The query's s and t."""
        rows, pos = torch.arange(len(tokens), device=tokens.device), self.answer_pos(tokens)
        return tokens[rows, pos - 2], tokens[rows, pos - 1]

    def distances(self, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, "batch node"]:
        """Breadth-first distance from s to every node (UNREACHABLE when out of reach)."""
        return bfs(self.adjacency(tokens), self.endpoints(tokens)[0])

    def distance(self, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, " batch"]:
        """The answer of each sequence as a number: 1..max_distance, or UNREACHABLE."""
        rows, pos = torch.arange(len(tokens), device=tokens.device), self.answer_pos(tokens)
        answer = tokens[rows, pos + 1]
        return torch.where(answer == self.token_id("INF"), UNREACHABLE, answer)

    # -- scoring ---------------------------------------------------------------------------
    @torch.no_grad()
    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        """Loss, accuracy, and accuracy at each distance (`accuracy_distance_d`, and
        `accuracy_distance_inf` for unreachable targets)."""
        rows, pos = torch.arange(len(batch), device=logits.device), self.answer_pos(batch.tokens)
        correct = (logits[rows, pos].argmax(-1) == batch.tokens[rows, pos + 1]).cpu()
        distance = self.distance(batch.tokens).cpu()
        result = {
            "loss": self.loss(logits, batch).item(),
            "accuracy": correct.float().mean().item(),
        }
        for d in range(1, self.max_distance + 1):
            if (distance == d).any():
                result[f"accuracy_distance_{d}"] = correct[distance == d].float().mean().item()
        if (distance == UNREACHABLE).any():
            result["accuracy_distance_inf"] = correct[distance == UNREACHABLE].float().mean().item()
        return result


def bfs(
    adjacency: Bool[Tensor, "batch node node"], source: Int[Tensor, " batch"]
) -> Int[Tensor, "batch node"]:
    """Distance from `source` to every node, by growing the reachable set one edge at a
    time (UNREACHABLE for the nodes it never reaches)."""
    batch, n, _ = adjacency.shape
    rows = torch.arange(batch, device=adjacency.device)
    dist = torch.full((batch, n), UNREACHABLE, dtype=torch.long, device=adjacency.device)
    reached = torch.zeros(batch, n, dtype=torch.bool, device=adjacency.device)
    reached[rows, source] = True
    dist[rows, source] = 0
    for step in range(1, n):
        grown = reached | (reached[:, :, None] & adjacency).any(1)
        dist[grown & ~reached] = step
        reached = grown
    return dist


def shortest_distance(edges: set[tuple[int, int]], s: int, t: int) -> int:
    """Breadth-first distance on a set of edges (UNREACHABLE if none), one graph at a time."""
    frontier, seen, d = {s}, {s}, 0
    while frontier:
        if t in frontier:
            return d
        d += 1
        frontier = {v for u in frontier for e in edges if u in e for v in e if v not in seen}
        seen |= frontier
    return UNREACHABLE
