"""Sweeps that answer "how does difficulty change with X?", and their saved results.

A sweep trains one model per setting with a recipe and records the steps it took to reach
a target. Each family defines its sweeps in `families/<family>/recipes.py` (`SWEEPS`, name
-> function returning the results). Full runs take minutes to hours on a CPU, so their
results ship in `families/<family>/results/NAME.json` and the notebooks plot those in
fast mode.

    python -m toyhelpers.sweeps sort_fixed_lengths   # rerun and overwrite the saved results
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from toyhelpers import families
from toyhelpers.checkpoints import atomic_write
from toyhelpers.models import n_params
from toyhelpers.recipes import Recipe, get_recipe
from toyhelpers.training import train


@dataclass(frozen=True)
class Sweep:
    name: str
    family: str
    run: Callable[[], dict[str, Any]]

    @property
    def path(self) -> Path:
        return families.family_dir(self.family) / "results" / f"{self.name}.json"


def all_sweeps() -> dict[str, Sweep]:
    """Every family's sweeps, by name."""
    found: dict[str, Sweep] = {}
    for family, module in families.load("recipes").items():
        for name, run in getattr(module, "SWEEPS", {}).items():
            if name in found:
                raise ValueError(f"sweep {name!r} is defined twice")
            found[name] = Sweep(name, family, run)
    return found


def load_results(name: str) -> dict[str, Any]:
    """The saved results of sweep `name` (found in whichever family ships them)."""
    path = families.find("results", f"{name}.json")
    if path is None:
        known = ", ".join(sorted(all_sweeps()))
        raise ValueError(f"no saved results called {name!r}; known sweeps: {known}")
    return json.loads(path.read_text())


def save_results(sweep: Sweep, results: dict[str, Any]) -> Path:
    atomic_write(sweep.path, lambda p: p.write_text(json.dumps(results, indent=2) + "\n"))
    return sweep.path


def _run(
    recipe: Recipe,
    seed: int,
    threshold: float,
    metric: str,
    max_steps: int | None,
    progress: bool,
    arch: dict[str, Any] | None = None,
    task_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    changes: dict[str, Any] = {"stop_at": threshold, "stop_metric": metric}
    if max_steps is not None:
        changes["steps"] = max_steps
    run = recipe.build(seed=seed, arch=arch, task_settings=task_settings, **changes)
    result = train(run.model, run.task, run.config, progress=progress)
    return {
        "seed": seed,
        "steps_to_target": result.steps_to(metric, threshold),
        "max_steps": run.config.steps,
        "final": result.metrics.get(metric),
        "best": max(result.history[metric]),
        "n_params": n_params(run.model),
        "seconds": round(result.seconds, 1),
    }


def _sweep(
    recipe_name: str,
    variants: list[tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]],
    *,
    threshold: float = 0.99,
    metric: str = "accuracy",
    max_steps: int | None = None,
    seeds: tuple[int, ...] = (0,),
    progress: bool = False,
) -> dict[str, Any]:
    """Train each (fields to record, architecture, task settings) variant with every seed,
    stopping each run at `threshold` on `metric` (or after `max_steps`)."""
    recipe = get_recipe(recipe_name)
    rows = []
    for fields, arch, task_settings in variants:
        for seed in seeds:
            row = _run(recipe, seed, threshold, metric, max_steps, progress, arch, task_settings)
            rows.append({**fields, **row})
            print(rows[-1], flush=True)
    return {"recipe": recipe_name, "metric": metric, "threshold": threshold, "rows": rows}


def setting_sweep(recipe_name: str, setting: str, values: list[Any], **options: Any) -> dict:
    """Train the recipe's model for each value of a task setting; record steps to target.

    `options`: `threshold`, `metric`, `max_steps`, `seeds`, `progress` (see `_sweep`).
    """
    variants = [({setting: value}, None, {setting: value}) for value in values]
    return {"setting": setting, **_sweep(recipe_name, variants, **options)}


def architecture_sweep(
    recipe_name: str, architectures: dict[str, dict[str, Any]], **options: Any
) -> dict[str, Any]:
    """Train each named architecture on the recipe's task and training config.

    `options`: `threshold`, `metric`, `max_steps`, `seeds`, `progress` (see `_sweep`).
    """
    variants = [
        ({"architecture": name, **arch}, arch, None) for name, arch in architectures.items()
    ]
    return _sweep(recipe_name, variants, **options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sweeps = all_sweeps()
    parser.add_argument("name", choices=sorted(sweeps))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = sweeps[args.name].run()
    results["machine"] = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
        "total_seconds": round(time.perf_counter() - start),
    }
    print(f"saved {save_results(sweeps[args.name], results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
