"""Training steps per second in bfloat16 autocast against float32, same model, same process.

Both precisions train copies of one recipe's model (by default `othello`, the shipped 6x6
Othello-GPT: d_model 256, 6 layers) with `toyhelpers.train`, alternating several times; the
report is the ratio of their median steps per second, and the loss each reaches, so that
the speed is not bought with a worse model. bfloat16 pays off where the hardware has bf16
matrix units: Ampere or newer GPUs, and CPUs with AMX or AVX-512 BF16 (see `lscpu`).
Run: `python benchmarks/precision_speed.py [--recipe NAME] [--steps N] [--repeats R]
[--threads T] [--device D]`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import toyhelpers as th
from toyhelpers.models import make_transformer
from toyhelpers.recipes import get_recipe


def steps_per_second(recipe, task, steps: int, precision: str, device) -> tuple[float, float]:
    """Steps per second of `steps` training steps from a fresh init, and the final loss."""
    model = make_transformer(recipe.model_config(task), seed=0, device=device)
    config = recipe.train_config(
        steps=steps, eval_every=steps, eval_size=256, checkpoint_every=steps, precision=precision
    )
    start = time.perf_counter()
    result = th.train(model, task, config, device=device, progress=False)
    return steps / (time.perf_counter() - start), result.metrics["loss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default="othello")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    args = parser.parse_args()

    device = th.pick_device(args.device)
    th.device.set_cpu_threads(device, args.threads)
    recipe = get_recipe(args.recipe)
    task = recipe.make_task()
    steps_per_second(recipe, task, 5, "bf16", device)  # warm-up
    runs: dict[str, list[tuple[float, float]]] = {"fp32": [], "bf16": []}
    for _ in range(args.repeats):
        for precision, results in runs.items():
            results.append(steps_per_second(recipe, task, args.steps, precision, device))
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, recipe {args.recipe} "
        f"({recipe.model_config(task)}), batch {recipe.train.batch_size}, {args.steps} steps x "
        f"{args.repeats} repeats"
    )
    speed = {}
    for precision, results in runs.items():
        speed[precision] = statistics.median(s for s, _ in results)
        losses = ", ".join(f"{loss:.4f}" for _, loss in results)
        print(
            f"{precision}: {speed[precision]:6.2f} steps/s | "
            f"loss after {args.steps} steps: {losses}"
        )
    print(f"ratio bf16 / fp32: {speed['bf16'] / speed['fp32']:.2f}")


if __name__ == "__main__":
    main()
