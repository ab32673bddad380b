"""Recipes and sweeps for the sorting tasks."""

from __future__ import annotations

from typing import Any

from toyhelpers.recipes import Recipe, cosine_training

RECIPES: dict[str, Recipe] = {
    "sort_fixed": Recipe(
        task="sort_fixed",
        model=dict(n_layers=1, d_model=64, n_heads=2, attn_only=True),
        train=cosine_training(steps=30_000, lr=2e-3, warmup_steps=200, eval_every=500),
        fast=dict(steps=300, eval_every=100),
        target={"accuracy": 0.99},
        notes=(
            "1 layer, 2 heads, attention only, no LayerNorm; 99.9% of lists. See "
            "sort_fixed_architectures for the smaller models tried."
        ),
    ),
    "sort_variable": Recipe(
        task="sort_variable",
        # Trained on lists of 1..5, laid out with room for 8 so that the same model can be
        # shown longer lists (its positions 13..18 only ever saw PAD in training).
        task_settings=dict(max_length=5, n_values=20, pad_length=8),
        model=dict(n_layers=1, d_model=64, n_heads=2, attn_only=True),
        train=cosine_training(steps=6_000, lr=2e-3, warmup_steps=200, eval_every=500),
        fast=dict(steps=300, eval_every=100),
        target={"accuracy": 0.99},
        notes=(
            "Lists of 1..5 values from 0..19, padded to room for 8. 1 layer, 2 heads, "
            "attention only, no LayerNorm. See sort_variable_architectures."
        ),
    ),
}


def _sort_fixed_lengths() -> dict[str, Any]:
    from toyhelpers.sweeps import setting_sweep

    return setting_sweep("sort_fixed", "length", [2, 3, 4, 5, 6, 8], max_steps=30_000)


def _sort_fixed_architectures() -> dict[str, Any]:
    from toyhelpers.sweeps import architecture_sweep

    attn = dict(attn_only=True)
    architectures = {
        "1 layer, 1 head, d_model 32": dict(n_layers=1, n_heads=1, d_model=32, **attn),
        "1 layer, 1 head, d_model 128": dict(n_layers=1, n_heads=1, d_model=128, **attn),
        "1 layer, 2 heads, d_model 32": dict(n_layers=1, n_heads=2, d_model=32, **attn),
        "1 layer, 2 heads, d_model 64 (recipe)": dict(n_layers=1, n_heads=2, d_model=64, **attn),
        "2 layers, 2 heads, d_model 64": dict(n_layers=2, n_heads=2, d_model=64, **attn),
    }
    return architecture_sweep("sort_fixed", architectures, max_steps=20_000)


def _sort_variable_architectures() -> dict[str, Any]:
    from toyhelpers.sweeps import architecture_sweep

    attn = dict(attn_only=True)
    architectures = {
        "1 layer, 1 head, d_model 32": dict(n_layers=1, n_heads=1, d_model=32, **attn),
        "1 layer, 1 head, d_model 64": dict(n_layers=1, n_heads=1, d_model=64, **attn),
        "1 layer, 2 heads, d_model 16": dict(n_layers=1, n_heads=2, d_model=16, **attn),
        "1 layer, 2 heads, d_model 32": dict(n_layers=1, n_heads=2, d_model=32, **attn),
        "1 layer, 2 heads, d_model 64 (recipe)": dict(n_layers=1, n_heads=2, d_model=64, **attn),
    }
    return architecture_sweep("sort_variable", architectures, max_steps=4_000)


SWEEPS = {
    "sort_fixed_lengths": _sort_fixed_lengths,
    "sort_fixed_architectures": _sort_fixed_architectures,
    "sort_variable_architectures": _sort_variable_architectures,
}
