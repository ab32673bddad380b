"""Training steps per second of the Othello recipes, drawing games one batch per step
against drawing them in pools (`TrainConfig.pool_batches`).

For each recipe, the same model trains `--steps` steps twice in this process, alternating
`--repeats` times: once with a fresh draw of one batch every step, once with one pool
drawn for all `--steps` steps (so the pool's draw is inside the timing). The report is
each median in steps per second and their ratio, with the device. The big models are
slow on a CPU: the defaults time few steps. Run:
`python benchmarks/othello_training.py [--recipes othello_8x8] [--steps N] [--device D]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

import toyhelpers as th
from toyhelpers.models import make_transformer
from toyhelpers.recipes import get_recipe

RECIPES = ("othello_4x4", "othello", "othello_8x8")


def steps_per_second(name: str, steps: int, pooled: bool, device: torch.device) -> float:
    """`steps` training steps of recipe `name` (one evaluation of 64 games at the end)."""
    recipe = get_recipe(name)
    task = recipe.make_task()
    model = make_transformer(recipe.model_config(task), seed=0, device=device)
    config = dataclasses.replace(
        recipe.train,
        steps=steps,
        warmup_steps=1,
        eval_every=steps,
        eval_size=64,
        checkpoint_every=steps,
        pool_batches=steps if pooled else None,
    )
    start = time.perf_counter()
    th.train(model, task, config, device=device, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    args = parser.parse_args()

    device = th.pick_device(args.device)
    th.device.set_cpu_threads(device, args.threads)
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, {args.steps} steps x "
        f"{args.repeats} repeats per recipe and draw"
    )
    for name in args.recipes:
        steps_per_second(name, 2, True, device)  # warm-up
        per_step, pooled = [], []
        for _ in range(args.repeats):
            per_step.append(steps_per_second(name, args.steps, False, device))
            pooled.append(steps_per_second(name, args.steps, True, device))
        a, b = statistics.median(per_step), statistics.median(pooled)
        precision = get_recipe(name).train.precision
        print(
            f"{name:12s} ({precision}): a draw per step {a:7.2f} steps/s, pooled {b:7.2f} "
            f"steps/s, ratio {b / a:.2f}"
        )


if __name__ == "__main__":
    main()
