"""Recipes for Othello-GPT (seed problems 3.20, 3.30-3.33).

- `othello_stage1`, `othello_stage2`, `othello_stage3`, then `othello` (6x6): the shipped
  model, trained on a CPU in the background of four sessions (63,000 steps, 6.6 hours on two
  cores in all). A 4-layer model trains 14,000 steps, then 15,000 more from those weights on
  fresh games, with the learning rate raised again and decayed once more. Its probes
  stalled at 0.93, so the third stage grows it to 6 layers: two new blocks go in before the
  last one, starting silent (`models.insert_blocks`). That gained little (0.939), so the
  fourth stage widens it to d_model 256, 8 heads and 1,024 neurons per MLP, starting as a
  copy of the narrow model's function (`models.widen`), and trains in bfloat16: probe
  0.952, legal moves 0.9955. Run `toyhelpers train` on the four names in that order.
- `othello_4x4`: small enough to train inside notebook 24 in a couple of minutes.
- `othello_8x8`: the full board, for a GPU (a Colab T4 or better).

Every run trains on fresh random games each step (unlimited data) against the uniform
distribution over legal next moves (see `toyhelpers.families.othello.tasks`).
"""

from __future__ import annotations

import dataclasses

from toyhelpers.recipes import Recipe, cosine_training
from toyhelpers.training import TrainConfig

_OTHELLO_6X6 = dict(n_layers=4, d_model=128, n_heads=4, d_mlp=512, normalization="LN")
_OTHELLO_6X6_DEEP = {**_OTHELLO_6X6, "n_layers": 6}
_OTHELLO_6X6_WIDE = {**_OTHELLO_6X6_DEEP, "d_model": 256, "n_heads": 8, "d_mlp": 1024}
_STAGE1 = cosine_training(
    steps=14_000,
    lr=1e-3,
    warmup_steps=500,
    eval_every=500,
    batch_size=128,
    eval_size=500,
    stop_metric="legal_rate",
    checkpoint_every=500,
)


def _six_by_six(
    train: TrainConfig,
    notes: str,
    init_from: str | None = None,
    model: dict | None = None,
    insert_blocks_at: int | None = None,
    widen: bool = False,
    target: dict | None = None,
) -> Recipe:
    return Recipe(
        task="othello",
        task_settings=dict(size=6),
        model=model or _OTHELLO_6X6,
        train=train,
        fast=dict(steps=100, eval_every=50, eval_size=100),
        notes=notes,
        init_from=init_from,
        insert_blocks_at=insert_blocks_at,
        widen=widen,
        target=target or {},
    )


RECIPES: dict[str, Recipe] = {
    "othello_stage1": _six_by_six(
        _STAGE1,
        "6x6 board, first stage; 4 layers, 4 heads, d_model 128, LayerNorm; "
        "108 min on one CPU thread",
    ),
    # The second stage raises the learning rate again (to 4e-4) and decays it once more.
    "othello_stage2": _six_by_six(
        dataclasses.replace(_STAGE1, steps=15_000, lr=4e-4, warmup_steps=200, seed=1),
        "6x6 board, second stage: continues othello_stage1 on new games (seed 1); "
        "81 min on one CPU thread",
        init_from="othello_stage1",
    ),
    "othello_stage3": _six_by_six(
        dataclasses.replace(_STAGE1, steps=16_000, lr=5e-4, warmup_steps=300, seed=2),
        "6x6 board, third stage: othello_stage2 grown to 6 layers (new blocks 3 and 4), "
        "trained on new games (seed 2); 90 min on two CPU threads",
        init_from="othello_stage2",
        model=_OTHELLO_6X6_DEEP,
        insert_blocks_at=3,
    ),
    "othello": _six_by_six(
        dataclasses.replace(
            _STAGE1, steps=18_000, lr=4e-4, warmup_steps=300, seed=3, precision="bf16"
        ),
        "6x6 board, fourth stage: othello_stage3 widened to d_model 256, 8 heads, 1024 "
        "neurons per MLP (models.widen), trained on new games (seed 3) in bfloat16; "
        "116 min on two CPU threads",
        init_from="othello_stage3",
        model=_OTHELLO_6X6_WIDE,
        widen=True,
        target={"legal_rate": 0.99},
    ),
    "othello_4x4": Recipe(
        task="othello",
        task_settings=dict(size=4),
        model=dict(n_layers=2, d_model=64, n_heads=4, d_mlp=256, normalization="LN"),
        train=cosine_training(
            steps=1_500,
            lr=3e-3,
            warmup_steps=100,
            eval_every=250,
            batch_size=128,
            eval_size=500,
            stop_metric="legal_rate",
        ),
        fast=dict(steps=100, eval_every=50, eval_size=100),
        notes="4x4 board; 2 layers, d_model 64: trains in a notebook on a CPU",
    ),
    "othello_8x8": Recipe(
        task="othello",
        task_settings=dict(size=8),
        model=dict(n_layers=8, d_model=256, n_heads=8, d_mlp=1024, normalization="LN"),
        train=cosine_training(
            steps=30_000,
            lr=5e-4,
            warmup_steps=1_000,
            eval_every=1_000,
            eval_size=500,
            stop_metric="legal_rate",
            checkpoint_every=1_000,
            # 16,384 games drawn at once: the move loop's cost is per call, not per game
            # (benchmarks/othello_games.py, one CPU thread, three runs: 2.6x to 3.5x the
            # games/s of one 256-game draw per step, 25x to 37x the one-board engine's).
            pool_batches=64,
        ),
        fast=dict(steps=50, eval_every=25, eval_size=50),
        notes="8x8 board, the original Othello-GPT shape (8 layers, d_model 256): for a GPU",
    ),
}
