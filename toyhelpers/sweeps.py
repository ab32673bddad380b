"""Sweeps that answer "how does difficulty change with X?", and their saved results.

A sweep trains one model per setting with a task's recipe and records the steps it took
to reach a target. Full runs take minutes to hours on a CPU, so their results ship in
`toyhelpers/results/NAME.json` and the notebooks plot those in fast mode.

    python -m toyhelpers.sweeps sort_fixed_lengths   # rerun and overwrite the saved results
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from toyhelpers.checkpoints import atomic_write
from toyhelpers.models import ModelConfig, make_transformer, n_params
from toyhelpers.recipes import all_sweeps, get_recipe
from toyhelpers.training import train


def results_path(name: str) -> Path:
    return Path(str(resources.files("toyhelpers") / "results")) / f"{name}.json"


def load_results(name: str) -> dict[str, Any]:
    path = results_path(name)
    if not path.exists():
        known = ", ".join(sorted(all_sweeps()))
        raise ValueError(f"no saved results called {name!r}; known sweeps: {known}")
    return json.loads(path.read_text())


def save_results(name: str, results: dict[str, Any]) -> Path:
    path = results_path(name)
    atomic_write(path, lambda p: p.write_text(json.dumps(results, indent=2) + "\n"))
    return path


def _run(
    recipe,
    task,
    arch: dict[str, Any],
    seed: int,
    threshold: float,
    metric: str,
    max_steps: int | None,
    progress: bool,
) -> dict[str, Any]:
    changes: dict[str, Any] = {"stop_at": threshold, "stop_metric": metric, "seed": seed}
    if max_steps is not None:
        changes["steps"] = max_steps
    config = dataclasses.replace(recipe.train, **changes)
    model = make_transformer(ModelConfig.for_task(task, **arch), seed=seed)
    result = train(model, task, config, progress=progress)
    return {
        "seed": seed,
        "steps_to_target": result.steps_to(metric, threshold),
        "max_steps": config.steps,
        "final": result.metrics.get(metric),
        "best": max(result.history[metric]),
        "n_params": n_params(model),
        "seconds": round(result.seconds, 1),
    }


def setting_sweep(
    recipe_name: str,
    setting: str,
    values: list[Any],
    *,
    threshold: float = 0.99,
    metric: str = "accuracy",
    max_steps: int | None = None,
    seeds: tuple[int, ...] = (0,),
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Train the recipe's model for each value of a task setting; record steps to target."""
    recipe = get_recipe(recipe_name)
    rows = []
    for value in values:
        task = recipe.make_task(**{setting: value})
        for seed in seeds:
            row = _run(recipe, task, recipe.model, seed, threshold, metric, max_steps, progress)
            rows.append({setting: value, **row})
            print(rows[-1], flush=True)
    return rows


def architecture_sweep(
    recipe_name: str,
    architectures: dict[str, dict[str, Any]],
    *,
    threshold: float = 0.99,
    metric: str = "accuracy",
    max_steps: int | None = None,
    seeds: tuple[int, ...] = (0,),
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Train each named architecture on the recipe's task and training config."""
    recipe = get_recipe(recipe_name)
    task = recipe.make_task()
    rows = []
    for label, arch in architectures.items():
        for seed in seeds:
            row = _run(recipe, task, arch, seed, threshold, metric, max_steps, progress)
            rows.append({"architecture": label, **arch, **row})
            print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sweeps = all_sweeps()
    parser.add_argument("name", choices=sorted(sweeps))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = sweeps[args.name]()
    results["machine"] = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
        "total_seconds": round(time.perf_counter() - start),
    }
    print(f"saved {save_results(args.name, results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
