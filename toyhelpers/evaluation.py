"""Measure a model on fresh data from its task."""

from __future__ import annotations

import torch
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.models import check_fits, core_module
from toyhelpers.tasks import Batch, Task


@torch.no_grad()
def evaluate(
    model: TransformerBridge, task: Task, n: int = 2_000, seed: int = 123, batch_size: int = 1_000
) -> dict[str, float]:
    """The task's metrics (`accuracy` among them) on `n` sequences drawn with `seed`."""
    check_fits(model, task)
    device = next(core_module(model).parameters()).device
    batch = task.generate(n, seed=seed, device=device)
    was_training = model.training
    model.eval()
    net = core_module(model)
    outputs = [task.outputs(net, batch[i : i + batch_size]) for i in range(0, n, batch_size)]
    model.train(was_training)
    return task.metrics(torch.cat(outputs), batch)


def predictions(model: TransformerBridge, batch: Batch) -> torch.Tensor:
    """Greedy next-token predictions at every position, shape [batch, seq]."""
    with torch.no_grad():
        return core_module(model)(batch.tokens).argmax(-1)
