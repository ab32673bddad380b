"""The recipes of lesson 19 (graphs, seed problem 3.10): a model that answers shortest-path
distances in 6-node graphs, trained in two stages (`toyhelpers train graph_stage1`, then
`toyhelpers train graph`). The shipped `graph` is below the lesson's 95% target: the
notes say what each stage reached on this CPU and which longer runs were tried."""

from __future__ import annotations

from toyhelpers.recipes import Recipe, cosine_training

# Rotary positions: the edges' pairing (v reads the u just before it) and the query's reads
# of s and t (two and one back from `=`) are fixed offsets, which rotary attention learns
# once for every position. With learned absolute positions the same model was at 0.39
# after 1,000 steps of 256 graphs, against 0.64 with rotary after 1,000 steps of 128.
_MODEL = dict(n_layers=4, d_model=64, n_heads=4, normalization="LN", positional="rotary")
# Both stages: batches of 128 graphs, evaluated on 4,000 every 500 steps.
_SHARED = dict(eval_every=500, batch_size=128, eval_size=4_000, stop_at=0.98)

RECIPES: dict[str, Recipe] = {
    "graph_stage1": Recipe(
        task="graph",
        model=_MODEL,
        train=cosine_training(
            steps=20_000,
            lr=3e-3,  # 3x the rate of a run that stalled at 0.70 (see notes)
            warmup_steps=200,
            **_SHARED,
        ),
        fast=dict(steps=60, eval_every=30, eval_size=1_000),
        notes=(
            "Stage 1, from scratch: 4 layers, 4 heads, d_model 64, MLPs, LayerNorm, rotary "
            "positions; 6 nodes, 3-6 edges, answers 1, 2, 3 and INF equally often. 20,000 "
            "steps of 128 graphs, 3,322 s on one CPU thread: 0.832 (distance 1: 0.84, 2: "
            "0.67, 3: 0.90, INF: 0.92). It sits on a plateau at 0.70-0.72 from step 2,000 to "
            "12,000, unable to tell distance 1 from 2 (whether s and t share an edge), then "
            "climbs. Runs that had not left that plateau when stopped: lr 1e-3 (5,000 "
            "steps), learned positions (3,500 steps of 256), batches of 64 (9,000 steps), "
            "the same recipe "
            "over 40,000 steps (still 0.72 at step 13,000, its rate still near 3e-3), and an "
            "easy-first curriculum, 2,000 steps on distance 1 alone (0.90) then the full "
            "task (0.68 after 4,000 more)"
        ),
    ),
    "graph": Recipe(
        task="graph",
        init_from="graph_stage1",
        model=_MODEL,
        train=cosine_training(
            steps=6_000,
            lr=1e-3,  # a third of stage 1's peak: the run continues, it does not restart
            warmup_steps=100,
            **_SHARED,
        ),
        fast=dict(steps=20, eval_every=10, eval_size=1_000),
        # What it reached, not the lesson's 95%: a longer stage 1 is the way there (notes).
        target={"accuracy": 0.85},
        notes=(
            "Stage 2: stage 1's weights, 6,000 more steps at a third of its rate, 901 s on "
            "one CPU thread: 0.856 (distance 1: 0.85, 2: 0.72, 3: 0.91, INF: 0.94), the loss "
            "still falling. Below the lesson's 95% target. Tried beyond it, on one CPU thread: "
            "this stage for 30,000 steps instead of 6,000, 0.894 (4,883 s); from those weights, "
            "10,000 steps at lr 3e-4 with two new blocks inserted at index 2 (6 layers, "
            "insert_blocks_at=2), 0.913 (2,215 s), at index 3 0.895 after 2,500, without new "
            "blocks 0.90, widened to d_model 128 and 8 heads 0.85-0.88, and with a linear "
            "readout loss for the adjacency and reachable sets at '=' 0.89. A longer deep run "
            "(a GPU's job) is the next thing to try"
        ),
    ),
}
