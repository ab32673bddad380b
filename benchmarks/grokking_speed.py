"""How fast p=113 modular addition groks: the classic recipe against the fast one.

Both train the same 1-layer transformer on the same 30% split, in this process. The fast
recipe runs to 99% test accuracy and its wall time is reported. The classic recipe takes
tens of minutes on a CPU, so by default it runs `--classic-steps` steps to measure its
cost per step and multiplies by the step at which it groks (`--classic-grok-step`, from a
full run: `python benchmarks/grokking_speed.py --classic-full` measures that too). It also
reports the per-step saving of computing only the answer position (`tail_logits`).

    python benchmarks/grokking_speed.py [--threads N] [--device D] [--classic-full]
"""

from __future__ import annotations

import argparse
import time

import torch

import toyhelpers as th
from toyhelpers.device import pick_device, set_cpu_threads
from toyhelpers.models import core_module, make_transformer
from toyhelpers.recipes import get_recipe
from toyhelpers.tasks import scored_loss


def run(name: str, device: torch.device, **changes) -> th.TrainResult:
    recipe = get_recipe(name)
    task = recipe.make_task()
    model = make_transformer(recipe.model_config(task), seed=0, device=device)
    config = recipe.train_config(**changes)
    start = time.perf_counter()
    result = th.train(model, task, config, device=device, progress=False)
    result.seconds = time.perf_counter() - start
    return result


def step_cost(device: torch.device, tail: bool, steps: int = 30) -> float:
    """Seconds per full-batch step, computing every position or only the answer's."""
    recipe = get_recipe("mod_add_classic")
    task = recipe.make_task()
    net = core_module(make_transformer(recipe.model_config(task), seed=0, device=device))
    batch = task.split("train", device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1.0)
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        loss = task.training_loss(net, batch) if tail else scored_loss(net(batch.tokens), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--classic-steps", type=int, default=300)
    parser.add_argument(
        "--classic-grok-step",
        type=int,
        default=None,
        help="step at which the classic recipe reached 99%% in a full run",
    )
    parser.add_argument(
        "--classic-full", action="store_true", help="run the classic recipe to 99%%"
    )
    args = parser.parse_args()
    device = pick_device(args.device)
    set_cpu_threads(device, args.threads)
    print(f"device {device}, {torch.get_num_threads()} threads")

    full, tail = step_cost(device, tail=False), step_cost(device, tail=True)
    print(
        f"one full-batch step: {full * 1e3:.1f} ms all positions, {tail * 1e3:.1f} ms answer "
        f"position only ({full / tail:.2f}x)"
    )

    fast = run("mod_add", device)
    grok = fast.steps_to("accuracy", 0.99)
    print(
        f"fast recipe: 99% test accuracy at step {grok}, {fast.seconds:.1f} s "
        f"({fast.seconds / fast.steps * 1e3:.1f} ms/step incl. evaluation)"
    )

    if args.classic_full:
        classic = run("mod_add_classic", device)
        classic_step, classic_seconds = classic.steps_to("accuracy", 0.99), classic.seconds
        print(f"classic recipe: 99% at step {classic_step}, {classic_seconds:.0f} s (measured)")
    else:
        probe = run("mod_add_classic", device, steps=args.classic_steps, stop_at=None)
        per_step = probe.seconds / probe.steps
        print(f"classic recipe: {per_step * 1e3:.1f} ms/step over {probe.steps} steps")
        if args.classic_grok_step is None:
            return
        classic_step = args.classic_grok_step
        classic_seconds = per_step * classic_step
        print(f"classic recipe: 99% at step {classic_step} (given) -> {classic_seconds:.0f} s")
    print(
        f"fast / classic: {grok / classic_step:.3f} of the steps, "
        f"{fast.seconds / classic_seconds:.3f} of the wall time "
        f"({classic_seconds / fast.seconds:.1f}x faster)"
    )


if __name__ == "__main__":
    main()
