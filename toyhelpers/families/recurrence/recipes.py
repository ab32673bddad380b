"""Recipes and sweeps for recurrences mod p (seed problem 3.7)."""

from __future__ import annotations

from typing import Any

from toyhelpers.recipes import Recipe, cosine_training

RECIPES: dict[str, Recipe] = {
    "fibonacci": Recipe(
        task="fibonacci",
        model=dict(n_layers=1, d_model=32, n_heads=1, d_mlp=128),
        train=cosine_training(
            steps=3_000,
            lr=3e-3,
            warmup_steps=100,
            eval_every=250,
            weight_decay=1.0,  # 100x the usual: it gives the clean Fourier solution
            stop_metric="token_accuracy",
        ),
        fast=dict(steps=200, eval_every=100),
        target={"token_accuracy": 0.99},
        notes=(
            "1 layer, 1 head, d_model 32, d_mlp 128, no LayerNorm, p=17, weight decay 1.0 "
            "(for a clean Fourier solution); 100% next-token accuracy. See "
            "fibonacci_architectures for the smaller models tried."
        ),
    ),
}


def _fibonacci_architectures() -> dict[str, Any]:
    from toyhelpers.sweeps import architecture_sweep

    one = dict(n_layers=1, n_heads=1)
    architectures = {
        "attention only, d_model 32": dict(d_model=32, attn_only=True, **one),
        "d_model 8, d_mlp 16": dict(d_model=8, d_mlp=16, **one),
        "d_model 16, d_mlp 32": dict(d_model=16, d_mlp=32, **one),
        "d_model 16, d_mlp 64": dict(d_model=16, d_mlp=64, **one),
        "d_model 32, d_mlp 64": dict(d_model=32, d_mlp=64, **one),
        "d_model 32, d_mlp 128 (recipe)": dict(d_model=32, d_mlp=128, **one),
    }
    return architecture_sweep("fibonacci", architectures, metric="token_accuracy", max_steps=3_000)


SWEEPS = {"fibonacci_architectures": _fibonacci_architectures}
