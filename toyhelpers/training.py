"""One training loop for every task in the course.

Data is made on the training device: either a fresh batch every step (tasks with
effectively unlimited data, like sorting) or a fixed training set sampled in minibatches
or used whole (full-batch, as grokking needs). A task with its own finite training set
(`task.train_set()`, the modular arithmetic tasks) trains on exactly that set. The loop
evaluates on held-out data every `eval_every` steps, stops once a target metric is
reached, and writes its full state to `out_dir/last.pt` atomically so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.checkpoints import TRAIN_STATE, atomic_write, save_checkpoint
from toyhelpers.device import pick_device
from toyhelpers.evaluation import evaluate
from toyhelpers.models import check_fits, core_module, model_config_of, to_device
from toyhelpers.tasks import Batch, Task, make_generator

# Offsets that keep the model's, the training data's and the evaluation data's random
# streams apart while all derive from one seed.
DATA_SEED_OFFSET = 1_000
EVAL_SEED_OFFSET = 2_000


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, schedule, evaluation and checkpointing.

    The defaults are a generic starting point; each task's recipe sets its own values.
    """

    steps: int = 5_000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = 100
    lr_schedule: str = "constant"  # after warm-up: "constant", or "cosine" decay to 10%
    grad_clip: float | None = 1.0
    train_size: int | None = None  # None: fresh data every step; else a fixed training set
    # (ignored for tasks with their own training set, e.g. mod_add)
    # Fresh data drawn `pool_batches` batches at a time and served in order: one big draw
    # instead of many small ones, for generators with a high cost per call (Othello's move
    # loop). None: one draw per step. The stream differs from the unpooled one, but the
    # same seed still gives the same batches, and a resumed run the same ones as an
    # uninterrupted run. Ignored when training on a fixed set.
    pool_batches: int | None = None
    eval_every: int = 250
    eval_size: int = 2_000
    # Stop once the eval metric `stop_metric` reaches this: at or above it, or at or below it
    # for the errors a task lists in `lower_is_better` (the in-context regressions').
    stop_at: float | None = None
    stop_metric: str = "accuracy"
    checkpoint_every: int = 1_000
    seed: int = 0
    # Grokfast (Lee et al. 2024, arXiv:2405.20233): add `grokfast_lambda` times an
    # exponential moving average (factor `grokfast_alpha`) of past gradients to each
    # gradient, amplifying their slow component. None switches it off.
    grokfast_alpha: float | None = None
    grokfast_lambda: float = 2.0
    # "bf16" runs the forward pass under bfloat16 autocast (the loss and the weights stay
    # float32): faster where there are bf16 matrix units (recent GPUs; CPUs with AMX, where
    # benchmarks/precision_speed.py measures 1.8x for the Othello model).
    precision: str = "fp32"

    def __post_init__(self) -> None:
        positive = ("steps", "batch_size", "eval_every", "eval_size", "checkpoint_every")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("train_size", "pool_batches"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be None or a positive int, got {value!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(
                f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}"
            )
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.grokfast_alpha is not None and not 0 <= self.grokfast_alpha < 1:
            raise ValueError(
                f"grokfast_alpha must be None or in [0, 1), got {self.grokfast_alpha!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        if "betas" in data:
            data["betas"] = tuple(data["betas"])
        return cls(**data)


@dataclass
class TrainResult:
    """What a run produced: the trained model, its evaluation history, and timings."""

    model: TransformerBridge
    history: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    reached_target: bool = False

    def steps_to(self, metric: str, threshold: float) -> int | None:
        """The first evaluated step at which `metric` reached `threshold` (None if never)."""
        for step, value in zip(self.history["step"], self.history[metric], strict=True):
            if value >= threshold:
                return int(step)
        return None


class _Data:
    """Training batches on the device: sampled fresh each step (one draw per step, or a
    pool of `pool_batches` batches drawn at once), or from a fixed set."""

    def __init__(self, task: Task, config: TrainConfig, device: torch.device) -> None:
        self.task, self.batch_size = task, config.batch_size
        # The generator lives on the training device, so batches are made where they are
        # used and never cross the bus; a seed gives the same stream on the same device.
        self.gen = make_generator(config.seed + DATA_SEED_OFFSET, device)
        self.device = device
        self.fixed: Batch | None = task.train_set(device)
        if self.fixed is None and config.train_size is not None:
            self.fixed = task.sample(config.train_size, self.gen)
        self.pool_batches = config.pool_batches if self.fixed is None else None
        self.pool: Batch | None = None
        self.pool_rng: torch.Tensor | None = None  # the generator's state when the pool was drawn
        self.served = 0  # batches of the pool already used

    def next(self) -> Batch:
        if self.fixed is None:
            if self.pool_batches is None:
                return self.task.sample(self.batch_size, self.gen)
            if self.pool is None or self.served == self.pool_batches:
                self._draw_pool()
            lo = self.served * self.batch_size
            self.served += 1
            return self.pool[lo : lo + self.batch_size]
        if self.batch_size >= len(self.fixed):
            return self.fixed
        idx = torch.randint(
            0, len(self.fixed), (self.batch_size,), generator=self.gen, device=self.device
        )
        return self.fixed[idx]

    def _draw_pool(self) -> None:
        self.pool_rng, self.served = self.gen.get_state(), 0
        self.pool = self.task.sample(self.batch_size * self.pool_batches, self.gen)

    def state(self) -> dict[str, Any]:
        """What a resumed run needs to serve the same batches: the generator's state (at
        the current pool's draw, with pools) and how much of the pool was served."""
        if self.pool is None:
            return {"data_rng": self.gen.get_state()}
        return {"data_rng": self.pool_rng, "data_pool_served": self.served}

    def load(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["data_rng"])
        served = state.get("data_pool_served")
        if served is not None:  # draw the same pool again, then skip what was served
            self._draw_pool()
            self.served = served


class _GradFilter:
    """Grokfast's EMA filter: g <- g + lambda * EMA(g), the EMA started at the first g."""

    def __init__(self, params: list[torch.nn.Parameter], alpha: float, lamb: float) -> None:
        self.params, self.alpha, self.lamb = params, alpha, lamb
        self.ema: list[torch.Tensor] | None = None

    def __call__(self) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        if self.ema is None:
            self.ema = [g.detach().clone() for g in grads]
        else:
            torch._foreach_lerp_(self.ema, grads, 1 - self.alpha)
        for p, e in zip(self.params, self.ema, strict=True):
            if p.grad is not None:
                p.grad.add_(e, alpha=self.lamb)


def _schedule(config: TrainConfig):
    """Learning-rate multiplier per step: linear warm-up, then constant or cosine to 10%."""
    warmup = max(config.warmup_steps, 1)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if config.lr_schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, config.steps - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def train(
    model: TransformerBridge,
    task: Task,
    config: TrainConfig = TrainConfig(),
    *,
    out_dir: str | Path | None = None,
    resume: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
    on_eval: Callable[[int, TransformerBridge, dict[str, list[float]]], None] | None = None,
) -> TrainResult:
    """Train `model` on `task` in place and return its history.

    With `out_dir`, the training state is saved every `checkpoint_every` steps, at the
    end, and on Ctrl-C; `resume=True` continues from `out_dir/last.pt`, giving the same
    weights as a run that was never interrupted. The final model is also written there as
    a checkpoint (`model.safetensors` + `meta.json`).

    `on_eval(step, model, history)` is called after every evaluation, e.g. to keep
    snapshots of the model along the run.
    """
    check_fits(model, task)
    device = pick_device(device)
    to_device(model, device)
    net = core_module(model)
    # Bias and norm parameters are left out of weight decay, as usual.
    decay = [p for p in net.parameters() if p.ndim >= 2]
    no_decay = [p for p in net.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
        betas=config.betas,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(config))
    data = _Data(task, config, device)
    grad_filter = (
        _GradFilter(list(net.parameters()), config.grokfast_alpha, config.grokfast_lambda)
        if config.grokfast_alpha is not None
        else None
    )
    eval_seed = config.seed + EVAL_SEED_OFFSET
    history: dict[str, list[float]] = {}
    step, seconds = 0, 0.0
    state_path = Path(out_dir) / TRAIN_STATE if out_dir is not None else None

    if resume:
        if state_path is None:
            raise ValueError("resume=True needs out_dir, the folder of the interrupted run")
        if state_path.exists():
            step, history, seconds = _load_state(
                state_path, model, task, config, opt, sched, data, grad_filter
            )
        else:
            warnings.warn(
                f"resume=True, but {state_path} does not exist: nothing to resume, so this "
                "is a new run from step 0",
                stacklevel=2,
            )

    def save_state() -> None:
        if state_path is not None:
            _save_state(
                state_path,
                model,
                task,
                config,
                opt,
                sched,
                data,
                grad_filter,
                step,
                history,
                seconds,
            )

    reached = bool(history) and _reached(history, config, task)
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc=f"train {task.name}")
    t0 = time.perf_counter() - seconds
    running = torch.zeros((), device=device)
    n_running = 0
    model.train()
    try:
        while step < config.steps and not reached:
            batch = data.next()
            with torch.autocast(device.type, torch.bfloat16, enabled=config.precision == "bf16"):
                loss = task.training_loss(net, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_filter is not None:
                grad_filter()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
            opt.step()
            sched.step()
            step += 1
            running += loss.detach()
            n_running += 1
            bar.update(1)
            if step % config.eval_every == 0 or step == config.steps:
                train_loss = (running / n_running).item()
                running.zero_()
                n_running = 0
                metrics = evaluate(model, task, n=config.eval_size, seed=eval_seed)
                model.train()
                seconds = time.perf_counter() - t0
                row = {"step": step, "seconds": seconds, "train_loss": train_loss, **metrics}
                for key, value in row.items():
                    history.setdefault(key, []).append(float(value))
                # The stop metric, or the task's first one when it has no such metric
                # (the in-context regression tasks report errors, not accuracy).
                shown = {"loss": f"{train_loss:.3g}"}
                named = [config.stop_metric] if config.stop_metric in metrics else list(metrics)
                for name in [n for n in named if n != "loss"][:1]:
                    shown[name] = f"{metrics[name]:.3f}"
                bar.set_postfix(**shown)
                reached = _reached(history, config, task)
                if on_eval is not None:
                    on_eval(step, model, history)
                    model.train()
            if step % config.checkpoint_every == 0:
                seconds = time.perf_counter() - t0
                save_state()
    except KeyboardInterrupt:
        seconds = time.perf_counter() - t0
        save_state()
        bar.close()
        where = f"; resume with resume=True and out_dir={str(out_dir)!r}" if out_dir else ""
        print(f"training interrupted at step {step}{where}")
        raise
    bar.close()
    seconds = time.perf_counter() - t0
    model.eval()
    final = {k: v[-1] for k, v in history.items() if k not in ("step", "seconds")}
    if out_dir is not None:
        save_state()
        save_checkpoint(
            model,
            task,
            out_dir,
            seed=config.seed,
            steps=step,
            metrics=final,
            train_config=config.to_dict(),
            extra={"train_seconds": round(seconds, 1), "device": device.type},
        )
    return TrainResult(model, history, step, seconds, final, reached)


def _reached(history: dict[str, list[float]], config: TrainConfig, task: Task) -> bool:
    if config.stop_at is None:
        return False
    if config.stop_metric not in history:
        raise ValueError(
            f"stop_metric {config.stop_metric!r} is not measured; metrics are "
            f"{', '.join(k for k in history if k not in ('step', 'seconds'))}"
        )
    latest = history[config.stop_metric][-1]
    if config.stop_metric in task.lower_is_better:
        return latest <= config.stop_at
    return latest >= config.stop_at


def _save_state(
    path, model, task, config, opt, sched, data, grad_filter, step, history, seconds
) -> None:
    state = {
        "step": step,
        "seconds": seconds,
        "history": history,
        "task": task.name,
        "task_config": task.config(),
        "model_config": model_config_of(model).to_dict(),
        "train_config": config.to_dict(),
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        **data.state(),
        "grad_ema": grad_filter.ema if grad_filter is not None else None,
    }
    atomic_write(path, lambda p: torch.save(state, p))


def _load_state(path, model, task, config, opt, sched, data, grad_filter):
    state = torch.load(path, map_location="cpu", weights_only=False)
    # Read through TrainConfig: a state saved before a setting existed holds its default.
    old_config = TrainConfig.from_dict(state["train_config"]).to_dict()
    saved = (state["task"], state["task_config"], state["model_config"], old_config)
    now = (task.name, task.config(), model_config_of(model).to_dict(), config.to_dict())
    names = ("task", "task settings", "model config", "training config")
    for name, old, new in zip(names, saved, now, strict=True):
        if old != new:
            raise ValueError(
                f"cannot resume from {path}: its {name} was {old!r}, this run's is {new!r}. "
                "Resume with the same settings, or use another out_dir."
            )
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    data.load(state)
    if grad_filter is not None:
        grad_filter.ema = state["grad_ema"]
    print(f"resumed from {path} at step {state['step']}")
    return state["step"], state["history"], state["seconds"]
