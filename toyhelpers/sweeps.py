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
from toyhelpers.models import make_transformer
from toyhelpers.recipes import get_recipe
from toyhelpers.training import train


def results_path(name: str) -> Path:
    return Path(str(resources.files("toyhelpers") / "results")) / f"{name}.json"


def load_results(name: str) -> dict[str, Any]:
    path = results_path(name)
    if not path.exists():
        raise ValueError(f"no saved results called {name!r}; known sweeps: {', '.join(SWEEPS)}")
    return json.loads(path.read_text())


def save_results(name: str, results: dict[str, Any]) -> Path:
    path = results_path(name)
    atomic_write(path, lambda p: p.write_text(json.dumps(results, indent=2) + "\n"))
    return path


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
    """Train the recipe's model for each task setting value; record steps to `threshold`."""
    recipe = get_recipe(recipe_name)
    rows = []
    for value in values:
        for seed in seeds:
            task = recipe.make_task(**{setting: value})
            changes: dict[str, Any] = {"stop_at": threshold, "stop_metric": metric, "seed": seed}
            if max_steps is not None:
                changes["steps"] = max_steps
            config = dataclasses.replace(recipe.train, **changes)
            model = make_transformer(recipe.model_config(task), seed=seed)
            result = train(model, task, config, progress=progress)
            rows.append(
                {
                    setting: value,
                    "seed": seed,
                    "steps_to_target": result.steps_to(metric, threshold),
                    "max_steps": config.steps,
                    "final": result.metrics.get(metric),
                    "seconds": round(result.seconds, 1),
                }
            )
            print(rows[-1], flush=True)
    return rows


def _sort_fixed_lengths() -> dict[str, Any]:
    rows = setting_sweep("sort_fixed", "length", [2, 3, 4, 5, 6, 8], max_steps=30_000)
    return {"setting": "length", "metric": "accuracy", "threshold": 0.99, "rows": rows}


SWEEPS = {"sort_fixed_lengths": _sort_fixed_lengths}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", choices=sorted(SWEEPS))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = SWEEPS[args.name]()
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
