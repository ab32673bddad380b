"""Inline exercise checks: compare a learner's answer with the reference, explain failures.

A check is a function `check_<exercise>(answer)` defined with the `@exercise` decorator,
in its family's `checks.py`. It raises `ExerciseFailed` (an AssertionError) with a
diagnosis when the answer is wrong, `ExerciseNotAttempted` when the answer is still the
stub, and prints "check passed: <exercise>" otherwise. Each outcome is also published as
notebook output metadata, which `toyhelpers check NOTEBOOK` reads to report every exercise.

An answer is usually a function; what it returns is put in a standard form before the
check sees it (`standardise`): CPU tensors, float32 or int64, numpy arrays as tensors and
numpy scalars as Python numbers. So a check compares values, never dtypes or devices, and
a learner may compute in float64, on a GPU or in numpy. The helpers below (`as_tensor`,
`assert_tensor`, `as_number`, `assert_number`, `pretrained_case`) serve every family's
checks.
"""

from __future__ import annotations

import functools
import numbers
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

METADATA_KEY = "toyhelpers_check"
PASSED, FAILED, NOT_ATTEMPTED = "passed", "failed", "not attempted"

F = TypeVar("F", bound=Callable[..., Any])


class ExerciseFailed(AssertionError):
    """The answer ran but is wrong; the message says where."""


class ExerciseNotAttempted(NotImplementedError):
    """The answer is still the stub."""


def _publish(exercise: str, status: str, message: str) -> None:
    record = {"exercise": exercise, "status": status, "message": message}
    if "IPython" in sys.modules:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            # Invisible to the learner; `toyhelpers check` reads it back from the outputs.
            display({"text/plain": ""}, raw=True, metadata={METADATA_KEY: record})


def standardise(value: Any) -> Any:
    """`value` in the form checks compare: tensors on the CPU as float32 (any float dtype)
    or int64 (any integer dtype), numpy arrays as such tensors, numpy scalars as Python
    numbers; lists, tuples and dicts element by element; a returned function returns
    standardised values in turn."""
    if isinstance(value, np.ndarray) and value.ndim > 0 and value.dtype.kind in "biuf":
        value = torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, Tensor):
        value = value.cpu()
        if value.is_floating_point():
            return value.float()
        if value.dtype not in (torch.bool, torch.int64) and not value.is_complex():
            return value.long()
        return value
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    if isinstance(value, (list, tuple)):
        items = [standardise(v) for v in value]
        if hasattr(value, "_fields"):  # a namedtuple takes its fields one by one
            return type(value)(*items)
        return type(value)(items)
    if isinstance(value, Mapping):
        return {k: standardise(v) for k, v in value.items()}
    if callable(value) and not isinstance(value, type | torch.nn.Module):
        return _standardising(value)
    return value


def _standardising(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return standardise(fn(*args, **kwargs))

    return call


def exercise(name: str, *, reference: Callable[..., Any] | None = None) -> Callable[[F], F]:
    """Make `fn` the check of exercise `name`: it reports passed / failed / not attempted.

    `reference` is the solution's function; the contract tests feed it to the check (as it
    is, in float64, as a 0-dim tensor, ...) to prove the check accepts every such answer.
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            if any(a is None for a in args) or any(v is None for v in kwargs.values()):
                _publish(name, NOT_ATTEMPTED, "an answer is still None")
                raise ExerciseNotAttempted(f"{name}: fill in the answer (it is still None)")
            args = tuple(standardise(a) for a in args)
            kwargs = {k: standardise(v) for k, v in kwargs.items()}
            try:
                fn(*args, **kwargs)
            except NotImplementedError as err:
                _publish(name, NOT_ATTEMPTED, str(err))
                raise ExerciseNotAttempted(f"{name}: not attempted yet ({err})") from None
            except AssertionError as err:
                _publish(name, FAILED, str(err))
                raise ExerciseFailed(f"{name}: {err}") from None
            _publish(name, PASSED, "")
            print(f"check passed: {name}")

        run.exercise_name = name  # type: ignore[attr-defined]
        run.reference = reference  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return wrap


# -- comparison helpers that explain the first difference ------------------------------


def first_difference(got: torch.Tensor, want: torch.Tensor) -> tuple[int, ...] | None:
    """Index of the first element where `got` and `want` differ (None if equal)."""
    diff = (
        (got != want)
        if got.dtype in (torch.bool, torch.long, torch.int)
        else ~torch.isclose(got.float(), want.float(), rtol=1e-4, atol=1e-5)
    )
    where = diff.nonzero()
    return None if len(where) == 0 else tuple(int(i) for i in where[0])


def as_tensor(got: Any, what: str) -> Tensor:
    """`got` as a tensor: a tensor as it is, a nested list of numbers converted."""
    if isinstance(got, (list, tuple)):
        try:
            got = standardise(torch.tensor(got))
        except (TypeError, ValueError, RuntimeError):
            pass
    if not isinstance(got, Tensor):
        raise ExerciseFailed(f"{what} should be a torch.Tensor, got {type(got).__name__}")
    return got


def assert_tensor(
    got: Any,
    want: torch.Tensor,
    what: str,
    *,
    dims: str = "",
    mistakes: Sequence[tuple[Tensor, str]] = (),
) -> None:
    """Fail with a diagnosis unless `got` is a tensor equal (or close) to `want`.

    `dims` names the axes (e.g. "batch pos") so the message can say where they differ.
    `mistakes` are (wrong answer, what went wrong) pairs: an answer that matches one of
    them, rather than `want`, gets its explanation.
    """
    got = as_tensor(got, what)
    if got.shape == want.shape and first_difference(got, want) is not None:
        for wrong, message in mistakes:
            if wrong.shape == got.shape and first_difference(got, wrong.float()) is None:
                raise ExerciseFailed(message)
    if tuple(got.shape) != tuple(want.shape):
        axes = f" [{dims}]" if dims else ""
        raise ExerciseFailed(
            f"{what} has shape {tuple(got.shape)}, expected {tuple(want.shape)}{axes}"
        )
    where = first_difference(got.detach().cpu(), want.detach().cpu())
    if where is not None:
        names = dims.split() if dims else [f"dim{i}" for i in range(len(where))]
        at = ", ".join(f"{n}={i}" for n, i in zip(names, where, strict=False))
        raise ExerciseFailed(
            f"{what} differs first at {at}: got {got[where].item()}, expected {want[where].item()}"
        )


def assert_per_head(
    got: Any,
    want: Tensor,
    what: str,
    hint: str,
    *,
    tol: float = 1e-5,
    mistakes: Sequence[tuple[Tensor, str]] = (),
) -> None:
    """Fail unless `got` is `want`, one number per head; a wrong value names the first
    head that differs and adds `hint`, the likely cause. `mistakes` are (wrong answer,
    what went wrong) pairs, explained when `got` matches one of them instead of `want`."""
    got = as_tensor(got, what)
    if got.shape == want.shape:
        for wrong, message in mistakes:
            close = torch.allclose(got.float(), wrong.float(), atol=tol)
            if close and not torch.allclose(want.float(), wrong.float(), atol=tol):
                raise ExerciseFailed(message)
        far = (got - want).abs() > tol
        if far.any():
            head = int(far.nonzero()[0])
            raise ExerciseFailed(
                f"{what}, head {head}: got {got[head]:.3f}, expected {want[head]:.3f}. {hint}"
            )
    assert_tensor(got, want, what, dims="head")


def as_number(got: Any, what: str) -> float:
    """`got` as a float if it is a number (int, float, numpy scalar, one-element tensor)."""
    if isinstance(got, Tensor) and got.numel() == 1 and not got.dtype == torch.bool:
        return float(got.item())
    if isinstance(got, numbers.Real) and not isinstance(got, bool):
        return float(got)
    shape = f" of shape {tuple(got.shape)}" if hasattr(got, "shape") else ""
    raise ExerciseFailed(f"{what} should be a number, got {type(got).__name__}{shape}")


def assert_number(got: Any, want: float, what: str, *, tol: float = 1e-4) -> float:
    """Fail unless `got` is a number within `tol` of `want` (relative for large values)."""
    value = as_number(got, what)
    if not abs(value - want) <= tol * max(1.0, abs(want)):
        raise ExerciseFailed(f"{what} = {value:.6g}, expected {want:.6g}")
    return value


# -- a shipped model and a fixed batch, shared by the checks of one lesson --------------


@dataclass(frozen=True)
class PretrainedCase:
    """A shipped model, a fixed batch of its task and the activations on it."""

    model: Any
    task: Any
    tokens: Tensor
    cache: Any

    def pattern(self, layer: int = 0) -> Tensor:
        return self.cache[f"blocks.{layer}.attn.hook_pattern"]


@functools.cache
def pretrained_case(name: str, n: int = 64, seed: int = 99) -> PretrainedCase:
    """The checkpoint shipped as `name`, `n` sequences of its task drawn with `seed`, and
    the cache of a forward pass on them; loaded once per process."""
    from toyhelpers.checkpoints import load_pretrained

    model = load_pretrained(name)
    tokens = model.task.generate(n, seed=seed).tokens
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens)
    return PretrainedCase(model, model.task, tokens, cache)


def hooked_activation(
    model: Any, tokens: Tensor, name: str, learner_hook: Callable[..., Any], what: str
) -> Tensor:
    """The activation at hook `name` after the learner's hook ran on it, as the model goes
    on with it. A hook may return the edited tensor (any dtype, or a nested list) or edit
    its argument in place and return None; both are accepted."""
    seen: dict[str, Tensor] = {}

    def run(x: Tensor, hook: Any) -> Tensor:
        edited = x.clone()
        out = learner_hook(edited, hook)
        got = edited if out is None else as_tensor(out, f"what {what} returned")
        seen["x"] = got.to(device=x.device, dtype=x.dtype)
        return seen["x"]

    with torch.no_grad():
        model.run_with_hooks(tokens, fwd_hooks=[(name, run)])
    return seen["x"]
