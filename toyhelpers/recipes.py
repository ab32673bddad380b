"""Recipes: the runnable unit of the course.

A recipe is the documented task settings, architecture and training config that made a
shipped checkpoint, and `toyhelpers train NAME` runs it. Every shipped checkpoint is named
after its recipe. Each family defines its recipes in `families/<family>/recipes.py` as a
dict `RECIPES`, and may define `SWEEPS` (saved experiments, see `toyhelpers.sweeps`).

`Recipe.build()` is the one place that turns a recipe into a task, a fresh model and a
training config, earlier training stages included: the CLI, the sweeps and the series
recorder all go through it.

    run = th.get_recipe("sort_fixed").build(fast=True)
    th.train(run.model, run.task, run.config)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from toyhelpers.models import AnyConfig, build_model, config_class
from toyhelpers.tasks import Task, get_task
from toyhelpers.training import TrainConfig

__all__ = ["Recipe", "Run", "all_recipes", "cosine_training", "get_recipe"]

RUNS_DIR = Path("runs")


@dataclass(frozen=True)
class Recipe:
    """What `toyhelpers train NAME` runs: task settings, architecture, training config.

    `fast` holds the overrides of a short run (tests, CI's fast mode). `init_from` names
    another recipe whose trained weights start this run (a later training stage):
    `build()` loads them from `runs/<init_from>` and refuses to start without them. With
    `insert_blocks_at`, this recipe's model may be deeper than that stage's: its extra
    blocks start at that index, adding nothing to the residual stream
    (`models.insert_blocks`). With `widen`, it may be wider (a multiple of the residual
    width, more heads and neurons), starting as a copy of that stage's function
    (`models.widen`). `target` is what the shipped checkpoint must reach on fresh data
    (metric -> minimum, or maximum for the errors a task lists in `lower_is_better`; the
    checkpoint tests re-measure it). `name` and `family` are filled
    in by the registry.
    """

    task: str
    model: dict[str, Any]
    train: TrainConfig
    fast: dict[str, Any] = field(default_factory=dict)
    task_settings: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    init_from: str | None = None
    insert_blocks_at: int | None = None
    widen: bool = False
    target: dict[str, float] = field(default_factory=dict)
    name: str = ""
    family: str = ""

    def make_task(self, **overrides: Any) -> Task:
        return get_task(self.task, **{**self.task_settings, **overrides})

    def model_config(self, task: Task, **arch: Any) -> AnyConfig:
        """The model config for `task`: the recipe's architecture, or `arch` instead."""
        arch = dict(arch or self.model)
        return config_class(arch.pop("kind", None)).for_task(task, **arch)

    def train_config(self, fast: bool = False, **overrides: Any) -> TrainConfig:
        changes = {**(self.fast if fast else {}), **overrides}
        return dataclasses.replace(self.train, **changes)

    def build(
        self,
        *,
        seed: int | None = None,
        fast: bool = False,
        arch: dict[str, Any] | None = None,
        task_settings: dict[str, Any] | None = None,
        runs_dir: str | Path = RUNS_DIR,
        **train_overrides: Any,
    ) -> Run:
        """The task, a freshly initialised model and the training config of one run.

        `seed` overrides the recipe's (it seeds the weights and the data), `fast` takes the
        short run's settings, `arch` replaces the architecture and `task_settings` changes
        the task (the sweeps use both); other keywords override the training config. A
        later stage starts from the weights its `init_from` recipe left in `runs_dir`.
        """
        if seed is not None:
            train_overrides["seed"] = seed
        config = self.train_config(fast=fast, **train_overrides)
        task = self.make_task(**(task_settings or {}))
        model = build_model(self.model_config(task, **(arch or {})), seed=config.seed)
        start = None
        if self.init_from is not None:
            start = _load_stage(model, task, Path(runs_dir) / self.init_from, self)
        return Run(self, task, model, config, start)


@dataclass
class Run:
    """One run of a recipe, ready to train: `train(run.model, run.task, run.config)`."""

    recipe: Recipe
    task: Task
    model: torch.nn.Module
    config: TrainConfig
    started_from: str | None = None  # what an `init_from` stage loaded, in words


def _load_stage(model: torch.nn.Module, task: Task, stage: Path, recipe: Recipe) -> str:
    """Start `model` from the weights of the earlier stage saved in `stage` (same task).

    With `recipe.insert_blocks_at`, the earlier model may be shallower: its blocks go around
    new ones. With `recipe.widen`, it may be narrower: `models.widen` copies its function.
    """
    from toyhelpers.checkpoints import load_checkpoint
    from toyhelpers.models import insert_blocks, model_config_of, widen

    if not (stage / "model.safetensors").exists():
        raise FileNotFoundError(
            f"recipe {recipe.name!r} continues the run of recipe {recipe.init_from!r}, but "
            f"{stage} holds no model: run `toyhelpers train {recipe.init_from}` first"
        )
    earlier = load_checkpoint(stage, task=task)
    where = f"the weights in {stage} (step {earlier.meta['steps']})"
    if recipe.insert_blocks_at is not None:
        insert_blocks(model, earlier, recipe.insert_blocks_at)
        return f"{where}, new blocks from index {recipe.insert_blocks_at} on"
    if recipe.widen:
        widen(model, earlier)
        return f"{where}, widened"
    if model_config_of(earlier) != model_config_of(model):
        raise ValueError(
            f"{stage} holds a model of another shape than this recipe's: "
            f"{model_config_of(earlier)} vs {model_config_of(model)}"
        )
    model.load_state_dict(earlier.state_dict())
    return where


def cosine_training(
    *, steps: int, lr: float, warmup_steps: int, eval_every: int, **changes: Any
) -> TrainConfig:
    """The training config most recipes share, with what differs as arguments: fresh
    batches of 256, AdamW with weight decay 0.01, `warmup_steps` of linear warm-up, then
    cosine decay to 10% of `lr`. `changes` sets any other field (e.g. `weight_decay=1.0`)."""
    shared = dict(batch_size=256, weight_decay=0.01, lr_schedule="cosine")
    return TrainConfig(
        **{**shared, **changes},
        steps=steps,
        lr=lr,
        warmup_steps=warmup_steps,
        eval_every=eval_every,
    )


def all_recipes() -> dict[str, Recipe]:
    """Every family's recipes, by name, with `name` and `family` filled in."""
    from toyhelpers import families

    found: dict[str, Recipe] = {}
    for family, module in families.load("recipes").items():
        for name, recipe in getattr(module, "RECIPES", {}).items():
            if name in found:
                raise ValueError(f"recipe {name!r} is defined twice")
            found[name] = dataclasses.replace(recipe, name=name, family=family)
    return found


def get_recipe(name: str) -> Recipe:
    recipes = all_recipes()
    if name not in recipes:
        raise ValueError(f"no recipe called {name!r}; recipes: {', '.join(sorted(recipes))}")
    return recipes[name]
