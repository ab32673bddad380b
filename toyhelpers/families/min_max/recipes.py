"""Recipes and sweeps for the comparison tasks."""

from __future__ import annotations

from typing import Any

from toyhelpers.recipes import Recipe, cosine_training

RECIPES: dict[str, Recipe] = {
    "min_max": Recipe(
        task="min_max",
        model=dict(n_layers=1, d_model=32, n_heads=1, attn_only=True),
        train=cosine_training(steps=5_000, lr=2e-3, warmup_steps=200, eval_every=500),
        fast=dict(steps=300, eval_every=100),
        target={"accuracy": 0.999},
        notes=(
            "1 layer, 1 head, d_model 32, attention only, no LayerNorm; 100% of pairs. See "
            "min_max_architectures for the smaller and the MLP models tried."
        ),
    ),
}


def _min_max_architectures() -> dict[str, Any]:
    from toyhelpers.sweeps import architecture_sweep

    attn = dict(n_layers=1, n_heads=1, attn_only=True)
    architectures = {
        "attention only, 1 head, d_model 8": dict(d_model=8, **attn),
        "attention only, 1 head, d_model 16": dict(d_model=16, **attn),
        "attention only, 1 head, d_model 32 (recipe)": dict(d_model=32, **attn),
        "1 head and an MLP, d_model 8": dict(n_layers=1, n_heads=1, d_model=8),
        "1 head and an MLP, d_model 16": dict(n_layers=1, n_heads=1, d_model=16),
    }
    return architecture_sweep("min_max", architectures, threshold=0.999, max_steps=5_000)


SWEEPS = {"min_max_architectures": _min_max_architectures}
