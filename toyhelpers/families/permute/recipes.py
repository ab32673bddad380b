"""Recipes and sweeps for permuting a list (seed problem 3.6)."""

from __future__ import annotations

from typing import Any

from toyhelpers.recipes import Recipe, cosine_training

RECIPES: dict[str, Recipe] = {
    "permute": Recipe(
        task="permute",
        model=dict(n_layers=1, d_model=16, n_heads=1, attn_only=True),
        train=cosine_training(steps=2_000, lr=3e-3, warmup_steps=100, eval_every=250),
        fast=dict(steps=200, eval_every=100),
        target={"accuracy": 0.99},
        notes=(
            "1 layer, 1 head, d_model 16, attention only, no LayerNorm; 100% of lists in "
            "a minute on a CPU. See permute_architectures for the smaller models tried."
        ),
    ),
}


def _permute_architectures() -> dict[str, Any]:
    from toyhelpers.sweeps import architecture_sweep

    attn = dict(n_layers=1, n_heads=1, attn_only=True)
    architectures = {
        "1 layer, 1 head, d_model 2": dict(d_model=2, **attn),
        "1 layer, 1 head, d_model 3": dict(d_model=3, **attn),
        "1 layer, 1 head, d_model 4": dict(d_model=4, **attn),
        "1 layer, 1 head, d_model 8": dict(d_model=8, **attn),
        "1 layer, 1 head, d_model 16 (recipe)": dict(d_model=16, **attn),
    }
    # Three seeds: at these widths whether a run finds the solution depends on its init.
    return architecture_sweep("permute", architectures, max_steps=3_000, seeds=(0, 1, 2))


SWEEPS = {"permute_architectures": _permute_architectures}
