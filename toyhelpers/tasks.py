"""The `Task` base class, its settings, and the registry every task family registers into.

A task knows its vocabulary, generates batches as a pure function of a seed, and says
which positions are scored. Models read exactly the token format a task writes. The
tasks themselves live in their families (`toyhelpers/families/<family>/tasks.py`), which
are imported the first time a task is looked up, never with `toyhelpers`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor


@dataclass(frozen=True)
class Batch:
    """Token ids and the positions the model is scored on.

    `scored[b, i]` is True when token `i` of sequence `b` is a target: the model must
    predict it from the logits at position `i - 1`. Position 0 is never scored.
    """

    tokens: Int[Tensor, "batch seq"]
    scored: Bool[Tensor, "batch seq"]

    def __len__(self) -> int:
        return self.tokens.shape[0]

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.tokens.to(device), self.scored.to(device))

    def __getitem__(self, index: slice | Tensor) -> Batch:
        return Batch(self.tokens[index], self.scored[index])


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh torch.Generator seeded with `seed`, so that data is a pure function of it."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return torch.Generator(device=device).manual_seed(seed)


# -- settings: dataclass fields that say what values they allow -------------------------


def int_setting(default: int | None, lo: int, hi: int | None = None) -> Any:
    """A task setting that must be an int in `lo..hi` (no upper bound when `hi` is None).

    A default of None makes None allowed too. `Task.__post_init__` checks every such
    field, so a bad value is a ValueError that names the setting and its range.
    """
    return field(default=default, metadata={"setting": ("int", lo, hi)})


def float_setting(default: float, lo: float, hi: float, *, lo_allowed: bool = False) -> Any:
    """A task setting that must be a number strictly between `lo` and `hi` (or equal to
    `lo` too, with `lo_allowed`: a noise level of 0, say)."""
    kind = "float_from" if lo_allowed else "float"
    return field(default=default, metadata={"setting": (kind, lo, hi)})


def bool_setting(default: bool) -> Any:
    """A task setting that must be True or False."""
    return field(default=default, metadata={"setting": ("bool", None, None)})


def choice_setting(default: str, choices: Sequence[str]) -> Any:
    """A task setting that must be one of `choices`."""
    return field(default=default, metadata={"setting": ("choice", tuple(choices), None)})


def setting_error(name: str, value: Any, kind: str, lo: Any, hi: Any, optional: bool) -> str | None:
    """Why `value` is not allowed for a setting declared as above, or None if it is."""
    if value is None and optional:
        return None
    either = "None or " if optional else ""
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok and lo <= value and (hi is None or value <= hi)
        allowed = f"an int >= {lo}" if hi is None else f"an int in {lo}..{hi}"
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo < value < hi
        allowed = f"a number in ({lo}, {hi})"
    elif kind == "float_from":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value < hi
        allowed = f"a number in [{lo}, {hi})"
    elif kind == "bool":
        ok, allowed = isinstance(value, bool), "True or False"
    else:
        ok, allowed = value in lo, "one of " + ", ".join(repr(c) for c in lo)
    return None if ok else f"{name} must be {either}{allowed}, got {value!r}"


def validate_settings(task: Any) -> None:
    """Raise ValueError for the first field of `task` whose value its setting forbids."""
    for f in dataclasses.fields(task):
        if "setting" in f.metadata:
            kind, lo, hi = f.metadata["setting"]
            message = setting_error(
                f.name, getattr(task, f.name), kind, lo, hi, optional=f.default is None
            )
            if message:
                raise ValueError(message)


class Task:
    """Base class for a task: subclasses are frozen dataclasses with validated fields.

    Subclasses implement `vocab`, `seq_len` and `_generate`; they may override `metrics`
    when whole-sequence accuracy is not the right score. Fields declared with
    `int_setting` and its siblings are checked on construction; a subclass with checks
    that involve several settings adds them in `__post_init__` after calling this one.
    """

    def __post_init__(self) -> None:
        validate_settings(self)

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # Metrics where lower is better (a checkpoint's target for them is a maximum).
    lower_is_better: ClassVar[tuple[str, ...]] = ("loss",)

    # -- what subclasses provide ------------------------------------------------------
    @property
    def vocab(self) -> list[str]:
        raise NotImplementedError

    @property
    def seq_len(self) -> int:
        """Length of every generated sequence (the longest one for variable-length tasks)."""
        raise NotImplementedError

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        raise NotImplementedError

    # -- shared behaviour ---------------------------------------------------------------
    @property
    def d_vocab(self) -> int:
        return len(self.vocab)

    def token_id(self, token: str) -> int:
        try:
            return self._index[token]
        except KeyError:
            raise ValueError(
                f"{token!r} is not in the {self.name} vocabulary; tokens are {_preview(self.vocab)}"
            ) from None

    @property
    def _index(self) -> dict[str, int]:
        # Not cached on the instance: frozen dataclasses forbid it and vocabularies are small.
        return {tok: i for i, tok in enumerate(self.vocab)}

    def encode(self, text: str | Sequence[str]) -> Int[Tensor, " seq"]:
        """Token ids for a space-separated string (or a list of token strings)."""
        words = text.split() if isinstance(text, str) else list(text)
        index = self._index
        unknown = [w for w in words if w not in index]
        if unknown:
            raise ValueError(
                f"unknown token(s) {unknown[:5]} for {self.name}; tokens are {_preview(self.vocab)}"
            )
        return torch.tensor([index[w] for w in words], dtype=torch.long)

    def decode(self, ids: Int[Tensor, " seq"] | Sequence[int]) -> str:
        """Space-separated token strings for a sequence of ids."""
        vocab = self.vocab
        ids = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        bad = [i for i in ids if not 0 <= i < len(vocab)]
        if bad:
            raise ValueError(f"token ids {bad[:5]} are outside 0..{len(vocab) - 1}")
        return " ".join(vocab[i] for i in ids)

    def generate(self, n: int, seed: int = 0, device: torch.device | str = "cpu") -> Batch:
        """`n` sequences drawn from this task; the same seed always gives the same batch."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        device = torch.device(device)
        # Drawn on the CPU and moved, so a seed means the same data on every device.
        batch = self._generate(n, make_generator(seed), torch.device("cpu"))
        return batch.to(device)

    def sample(self, n: int, gen: torch.Generator) -> Batch:
        """`n` sequences from a running generator (the training loop's fresh-data path).

        The batch lives on the generator's device, so data never leaves the accelerator.
        """
        return self._generate(n, gen, gen.device)

    def train_set(self, device: torch.device | str = "cpu") -> Batch | None:
        """The task's own fixed training set, for tasks with a finite dataset (None here).

        When a task returns one, the training loop trains on exactly that set.
        """
        return None

    def config(self) -> dict[str, Any]:
        """The task's settings, enough to rebuild it with `get_task(name, **config)`."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        """Loss and accuracy on the scored positions.

        `accuracy` counts a sequence as right only when every scored token is the
        argmax; for these tasks that equals greedy autoregressive generation being
        exactly right, since each prediction then sees only correct earlier tokens.
        """
        return sequence_metrics(logits, batch)

    def loss(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> Float[Tensor, ""]:
        """The training objective: cross-entropy on the scored tokens, unless a task says."""
        return scored_loss(logits, batch)

    def outputs(self, model: torch.nn.Module, batch: Batch) -> Tensor:
        """What `model` (a plain module, see `models.core_module`) outputs on `batch`:
        logits for token tasks; tasks whose inputs are not tokens say what instead."""
        return model(batch.tokens)

    def training_loss(self, model: torch.nn.Module, batch: Batch) -> Float[Tensor, ""]:
        """`loss` of `model` (a plain module, see `models.core_module`) on a training batch.

        Tasks scored only at their end override this to skip unscored positions.
        """
        return self.loss(self.outputs(model, batch), batch)

    def __str__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in self.config().items())
        return f"{self.name}({fields})"


def shifted(
    logits: Float[Tensor, "batch seq d_vocab"], batch: Batch
) -> tuple[
    Float[Tensor, "batch seq_1 d_vocab"], Int[Tensor, "batch seq_1"], Bool[Tensor, "batch seq_1"]
]:
    """Align logits at position i with the target token at i + 1."""
    return logits[:, :-1], batch.tokens[:, 1:], batch.scored[:, 1:]


def scored_loss(logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> Float[Tensor, ""]:
    """Mean cross-entropy over the scored positions: the training objective."""
    pred, target, mask = shifted(logits, batch)
    return torch.nn.functional.cross_entropy(pred[mask], target[mask])


@torch.no_grad()
def sequence_metrics(logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
    pred, target, mask = shifted(logits, batch)
    correct = (pred.argmax(-1) == target) | ~mask
    return {
        "loss": scored_loss(logits, batch).item(),
        "token_accuracy": (correct[mask].float().mean()).item(),
        "accuracy": correct.all(dim=-1).float().mean().item(),
    }


def _preview(items: Sequence[str], limit: int = 12) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[: limit // 2]) + ", ..., " + ", ".join(items[-limit // 2 :])


# -- the registry ---------------------------------------------------------------------

_REGISTRY: dict[str, type[Task]] = {}
T = TypeVar("T", bound=type[Task])


def register(name: str) -> Callable[[T], T]:
    """Class decorator: make a task available as `get_task(name)`."""

    def wrap(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"task name {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def _load_families() -> None:
    # Importing a family's tasks module registers its tasks; done on first use, not when
    # toyhelpers is imported. Task modules need torch only, never TransformerLens.
    from toyhelpers import families

    families.load("tasks")


def list_tasks() -> list[str]:
    """Names of every task, sorted."""
    _load_families()
    return sorted(_REGISTRY)


def task_class(name: str) -> type[Task]:
    """The class registered as `name`; a recipe's name gets a pointer to its task."""
    _load_families()
    if name not in _REGISTRY:
        from toyhelpers.recipes import all_recipes  # only on this error path: it loads more

        recipe = all_recipes().get(name)
        if recipe is not None:
            raise ValueError(
                f"{name!r} is a recipe, not a task: it trains on task {recipe.task!r}; use "
                f"get_task({recipe.task!r}) or get_recipe({name!r}).make_task()"
            )
        raise ValueError(f"unknown task {name!r}; available tasks: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def get_task(name: str, **overrides: Any) -> Task:
    """The task called `name`, with any of its settings overridden by keyword."""
    cls = task_class(name)
    allowed = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(
            f"{name} has no setting(s) {', '.join(unknown)}; its settings are: {', '.join(allowed)}"
        )
    return cls(**overrides)
