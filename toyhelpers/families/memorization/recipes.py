"""Recipes and sweeps for memorising a random table (seed problem 3.24, lesson 23)."""

from __future__ import annotations

import dataclasses
from typing import Any

from toyhelpers.recipes import Recipe
from toyhelpers.training import TrainConfig

# Full batch (every step shows the model all n² entries once: one exposure each), no
# weight decay (nothing to generalise to, and decay erases what is stored), cosine decay.
FULL_BATCH = TrainConfig(
    steps=3_000,
    batch_size=100_000,  # larger than the table: full batch
    lr=1e-2,
    weight_decay=0.0,
    warmup_steps=10,
    lr_schedule="cosine",
    grad_clip=None,
    eval_every=250,
    eval_size=2_000,
    checkpoint_every=1_000,
)

RECIPES: dict[str, Recipe] = {
    "memorize_mlp": Recipe(
        task="memorize",
        model=dict(kind="mlp", d_hidden=64, act_fn="relu"),
        train=FULL_BATCH,
        fast=dict(steps=200, eval_every=100),
        target={"accuracy": 0.99},
        notes=(
            "one hidden layer of 64 ReLU neurons on one-hot(a) ⊕ one-hot(b), 9,328 "
            "parameters, for a 48 x 48 table (12,868 bits); full batch, AdamW lr 1e-2, no "
            "weight decay, cosine decay, 3,000 steps = 3,000 exposures of each entry "
            "(10 s of training on one CPU thread; 100% fit from step 500)"
        ),
    ),
    # The same table for a transformer reading the tokens `a b =` (lesson 23's comparison).
    "memorize_transformer": Recipe(
        task="memorize",
        model=dict(n_layers=1, d_model=32, n_heads=1, d_mlp=128),
        train=dataclasses.replace(FULL_BATCH, steps=1_500),
        fast=dict(steps=100, eval_every=50),
        target={"accuracy": 0.99},
        notes=(
            "1 layer, 1 head, d_model 32, 128 MLP neurons, 15,840 parameters, on the 48 x 48 "
            "table written as tokens; the MLP recipe's full-batch training for 1,500 steps "
            "(46 s on one CPU thread)"
        ),
    ),
}

CAPACITY_WIDTHS = (8, 16, 24, 32, 48, 64)
CAPACITY_STEPS = (300, 3_000, 10_000)  # full-batch steps = exposures of each entry


def _memorize_capacity() -> dict[str, Any]:
    """Table bits learned vs parameters, for each hidden width and training length."""
    import torch

    from toyhelpers.families.memorization.capacity import bits_learned, fitted, table_bits
    from toyhelpers.models import n_params
    from toyhelpers.recipes import get_recipe
    from toyhelpers.training import train

    recipe = get_recipe("memorize_mlp")
    rows = []
    for steps in CAPACITY_STEPS:
        for width in CAPACITY_WIDTHS:
            arch = dict(kind="mlp", d_hidden=width, act_fn="relu")
            run = recipe.build(arch=arch, steps=steps, eval_every=steps)
            result = train(run.model, run.task, run.config, progress=False)
            task = run.task
            fit = fitted(run.model, task).float().mean().item()
            entries = task.n**2
            params = n_params(run.model)
            rows.append(
                {
                    "d_hidden": width,
                    "exposures": steps,
                    "n_params": params,
                    "fit": fit,
                    "bits_naive": fit * table_bits(task.n, entries),
                    "bits_learned": bits_learned(fit, task.n, entries),
                    "bits_per_param": bits_learned(fit, task.n, entries) / params,
                    "seconds": round(result.seconds, 1),
                }
            )
            print(rows[-1], flush=True)
    task = recipe.make_task()
    return {
        "recipe": "memorize_mlp",
        "n": task.n,
        "table_bits": table_bits(task.n, task.n**2),
        "threads": torch.get_num_threads(),
        "rows": rows,
    }


SWEEPS = {"memorize_capacity": _memorize_capacity}
