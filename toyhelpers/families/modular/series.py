"""Record a grokking run once, ship it, and plot it without retraining.

`record_series(recipe)` trains a recipe's model, keeping the weights at every evaluation,
then computes the progress measures (train/test loss, restricted and excluded loss, the
sum of squared weights) at every one of them with the final model's key frequencies. It
writes the measures at full resolution to `history.json` and keeps a few snapshots, in
half precision, so that a notebook can recompute any of them and check they agree:

    python -m toyhelpers.families.modular.series mod_add            # ~ minutes on a CPU; overwrites
    series = load_series("mod_add")                  # .history, .steps, .state_dict(i)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from toyhelpers.checkpoints import atomic_write
from toyhelpers.families import family_dir
from toyhelpers.families.modular.fourier import progress_measures
from toyhelpers.recipes import get_recipe
from toyhelpers.training import train

HISTORY = "history.json"


def series_dir(name: str) -> Path:
    """Where the series of recipe `name` lives: next to its shipped checkpoint."""
    return family_dir("modular") / "pretrained" / name / "series"


@dataclass
class Series:
    """A recorded run: measures at every evaluated step and some half-precision snapshots."""

    name: str
    history: dict[str, Any]
    path: Path

    @property
    def steps(self) -> list[int]:
        """The steps that have a snapshot."""
        return [int(s) for s in self.history["snapshot_steps"]]

    def state_dict(self, step: int) -> dict[str, torch.Tensor]:
        """The model's weights at `step` (one of `steps`), in float32."""
        if step not in self.steps:
            raise ValueError(f"no snapshot at step {step}; snapshots: {self.steps}")
        state = load_file(str(self.path / f"step_{step:06d}.safetensors"))
        return {k: v.float() for k, v in state.items()}


def load_series(name: str) -> Series:
    """The recorded run shipped for recipe `name` (e.g. "mod_add")."""
    path = series_dir(name)
    if not (path / HISTORY).exists():
        raise ValueError(
            f"no recorded series for {name!r}; record it with "
            f"`python -m toyhelpers.families.modular.series {name}`"
        )
    return Series(name, json.loads((path / HISTORY).read_text()), path)


def _spread(steps: list[int], keep: int) -> list[int]:
    """`keep` steps spread evenly over `steps`, always including the first and last."""
    if keep <= 0:
        return []
    if len(steps) <= keep:
        return steps
    idx = torch.linspace(0, len(steps) - 1, keep).round().long().unique()
    return [steps[i] for i in idx.tolist()]


def record_series(
    name: str, *, steps: int | None = None, keep: int = 12, progress: bool = True
) -> Series:
    """Train recipe `name` for `steps` (default: the recipe's), without stopping at its
    target so the clean-up after grokking is recorded; measure every evaluation."""
    run = get_recipe(name).build(stop_at=None, **({"steps": steps} if steps else {}))
    model, task, config = run.model, run.task, run.config
    states: dict[int, dict[str, torch.Tensor]] = {0: _copy(model)}

    def keep_state(step: int, m: torch.nn.Module, history: dict[str, list[float]]) -> None:
        states[step] = _copy(m)

    # The run's final weights are the checkpoint shipped for the task, beside the series.
    out = series_dir(name)
    result = train(model, task, config, out_dir=out.parent, progress=progress, on_eval=keep_state)
    steps = sorted(states)
    measures = progress_measures(model, task, [states[s] for s in steps])
    snapshot_steps = _spread(steps, keep)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("step_*.safetensors"):
        old.unlink()
    for step in snapshot_steps:
        half = {k: v.half().contiguous() for k, v in states[step].items()}
        atomic_write(out / f"step_{step:06d}.safetensors", lambda p, h=half: save_file(h, str(p)))
    history = {
        "recipe": name,
        "task": task.name,
        "task_config": task.config(),
        "train_config": config.to_dict(),
        "train_seconds": round(result.seconds, 1),
        "steps": steps,
        "snapshot_steps": snapshot_steps,
        **measures,
    }
    atomic_write(out / HISTORY, lambda p: p.write_text(json.dumps(history) + "\n"))
    return Series(name, history, out)


def _copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="recipe to record, e.g. mod_add")
    parser.add_argument("--keep", type=int, default=12, help="snapshots to ship")
    args = parser.parse_args(argv)
    series = record_series(args.name, keep=args.keep)
    print(
        f"wrote {series.path}: {len(series.history['steps'])} measured steps, "
        f"snapshots at {series.steps}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
