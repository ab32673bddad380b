"""Training throughput of `toyhelpers.train` against a minimal hand-written PyTorch loop.

Both train the same architecture (the sort_fixed recipe's) on the same task, in this
process, alternating several times; the report is the ratio of their median steps per
second. Run: `python benchmarks/train_throughput.py [--steps N] [--repeats R] [--device D]`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import toyhelpers as th
from toyhelpers.models import core_module, make_transformer
from toyhelpers.recipes import get_recipe


def hand_written_loop(task, model_config, steps: int, batch_size: int, lr: float, device) -> float:
    """The plainest loop we would write by hand: sample, forward, cross-entropy, AdamW step."""
    model = make_transformer(model_config, seed=0, device=device)
    net = core_module(model)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    gen = torch.Generator(device=device).manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        batch = task.sample(batch_size, gen)
        logits = net(batch.tokens)[:, :-1]
        mask = batch.scored[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits[mask], batch.tokens[:, 1:][mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def toyhelpers_loop(task, model_config, steps: int, batch_size: int, lr: float, device) -> float:
    model = make_transformer(model_config, seed=0, device=device)
    # One evaluation at the end, as a run with eval_every=steps makes; the hand loop has none.
    config = th.TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        eval_every=steps,
        eval_size=64,
        checkpoint_every=steps,
    )
    start = time.perf_counter()
    th.train(model, task, config, device=device, progress=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    args = parser.parse_args()

    device = th.pick_device(args.device)
    th.device.set_cpu_threads(device, args.threads)
    recipe = get_recipe("sort_fixed")
    task = recipe.make_task()
    model_config = recipe.model_config(task)
    hand, ours = [], []
    toyhelpers_loop(task, model_config, 20, args.batch_size, 1e-3, device)  # warm-up
    for _ in range(args.repeats):
        hand.append(
            hand_written_loop(task, model_config, args.steps, args.batch_size, 1e-3, device)
        )
        ours.append(toyhelpers_loop(task, model_config, args.steps, args.batch_size, 1e-3, device))
    h, o = statistics.median(hand), statistics.median(ours)
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, {args.steps} steps x "
        f"{args.repeats} repeats, batch {args.batch_size}, model {model_config}"
    )
    print(f"hand-written loop: {h:8.1f} steps/s")
    print(f"toyhelpers.train:  {o:8.1f} steps/s")
    print(f"ratio toyhelpers / hand-written: {o / h:.3f}")


if __name__ == "__main__":
    main()
