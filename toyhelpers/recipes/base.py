"""`Recipe`: the documented model and training config of one task."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from toyhelpers.mlp import MLPConfig
from toyhelpers.models import ModelConfig
from toyhelpers.tasks.base import Task, get_task
from toyhelpers.training import TrainConfig


@dataclass(frozen=True)
class Recipe:
    """What `toyhelpers train NAME` runs: task settings, architecture, training config.

    `fast` holds the overrides of a short run (tests, CI's fast mode). `init_from` names
    another recipe whose trained weights start this run (a second training stage): `toyhelpers
    train` then loads them from `runs/<init_from>` and refuses to start without them. With
    `insert_blocks_at`, this recipe's model may be deeper than that stage's: its extra blocks
    start at that index, adding nothing to the residual stream (`models.insert_blocks`).
    With `widen`, it may be wider (a multiple of the residual width, more heads and neurons),
    starting as a copy of that stage's function (`models.widen`).
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

    def make_task(self, **overrides: Any) -> Task:
        return get_task(self.task, **{**self.task_settings, **overrides})

    def model_config(self, task: Task) -> ModelConfig | MLPConfig:
        if self.model.get("kind") == "mlp":
            return MLPConfig(n_values=task.p, **self.model)  # type: ignore[attr-defined]
        return ModelConfig.for_task(task, **self.model)

    def train_config(self, fast: bool = False, **overrides: Any) -> TrainConfig:
        changes = {**(self.fast if fast else {}), **overrides}
        return dataclasses.replace(self.train, **changes)
