"""The recipe of lesson 18 (code_tracing, seed problem 3.9): a model that traces copy chains."""

from __future__ import annotations

from toyhelpers.recipes import Recipe, cosine_training

RECIPES: dict[str, Recipe] = {
    "code_trace": Recipe(
        task="code_trace",
        # Three layers, attention only: one to tell each line's value which variable it is
        # assigned to, one per hop of a depth-2 chain after that (see lesson 18).
        model=dict(n_layers=3, d_model=64, n_heads=4, attn_only=True),
        train=cosine_training(
            steps=5_000, lr=2e-3, warmup_steps=100, eval_every=250, stop_at=0.998
        ),
        fast=dict(steps=100, warmup_steps=20, eval_every=50),
        target={
            "accuracy": 0.99,
            "accuracy_depth_1": 0.99,
            "accuracy_depth_2": 0.99,
        },
        notes=(
            "3 layers, 4 heads each, d_model 64, attention only, learned positions, no "
            "LayerNorm, 53,248 parameters; programs of 4 lines over 2 variables, chains of "
            "depth 1 or 2. Fresh batches of 256, AdamW lr 2e-3, stopped at 99.8%: 3,000 "
            "steps, 205 s on one thread of this 2-core CPU. Accuracy sits at 61-66% until step "
            "1,750, then climbs: 70% at 2,000, 81% at 2,250, 98% at 2,500, 100% at 3,000. With "
            "3 variables (over 4 or 5 lines) the same model was still at 56-63% after "
            "2,000-3,000 steps: more variables need a longer run than one CPU thread gave here"
        ),
    ),
}
