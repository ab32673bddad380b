"""Checks for 21_icl_regression: each runs the learner's function and a reference on fixed
prompts (and, for the influence exercise, on small models built from a seed), and says
what the usual mistake looks like."""

from __future__ import annotations

import functools

import torch
from jaxtyping import Float
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, as_number, as_tensor, exercise
from toyhelpers.families.icl import baselines

# -- references ------------------------------------------------------------------------


def _least_squares_predictions(
    xs: Float[Tensor, "batch point dim"], ys: Float[Tensor, "batch point"]
) -> Float[Tensor, "batch point"]:
    return baselines.least_squares(xs, ys)


def _gd_predictions(
    xs: Float[Tensor, "batch point dim"], ys: Float[Tensor, "batch point"], lr: float, steps: int
) -> Float[Tensor, "batch point"]:
    return baselines.gradient_descent(xs, ys, lr=lr, steps=steps)


def _influence(
    model: torch.nn.Module,
    xs: Float[Tensor, "batch point dim"],
    ys: Float[Tensor, "batch point"],
    point: int,
) -> Float[Tensor, "batch example"]:
    with torch.enable_grad():  # also when called under torch.no_grad()
        ys = ys.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(xs, ys)[:, point].sum(), ys)
    return grad[:, :point]


def _probe_r2(
    features: Float[Tensor, "n d"], targets: Float[Tensor, "n k"], train_fraction: float = 0.8
) -> float:
    n_train = int(train_fraction * len(features))
    ones = features.new_ones(len(features), 1)
    X = torch.cat([features, ones], dim=1).double()
    Y = targets.double()
    coef = torch.linalg.lstsq(X[:n_train], Y[:n_train], driver="gelsd").solution
    residual = Y[n_train:] - X[n_train:] @ coef
    spread = Y[n_train:] - Y[n_train:].mean(0)
    return (1 - residual.pow(2).sum() / spread.pow(2).sum()).item()


# -- fixed cases -------------------------------------------------------------------------


@functools.cache
def _prompts(
    dim: int = 5, n_points: int = 12, n: int = 64, seed: int = 21
) -> tuple[Tensor, Tensor]:
    from toyhelpers.tasks import get_task

    batch = get_task("icl_linear", dim=dim, n_points=n_points).generate(n, seed=seed)
    return batch.xs, batch.ys


def _assert_close_per_point(
    got: Tensor, want: Tensor, what: str, scale: float, hints: list[tuple[Tensor, str, int]]
) -> None:
    """Compare predictions point by point (squared difference over `scale`, the size of
    y's variance): float32 and float64 solvers differ a little where X is ill-conditioned.
    `hints` are (wrong answer, what went wrong, first point where it is recognisable)."""
    got = as_tensor(got, what)
    if tuple(got.shape) != tuple(want.shape):
        raise ExerciseFailed(
            f"{what} has shape {tuple(got.shape)}, expected {tuple(want.shape)} [batch point]: "
            "one prediction per prompt and point, point 0 included (predict 0 there)"
        )
    gap = ((got.float() - want.float()) ** 2).mean(0) / scale
    bad = (gap > 1e-4).nonzero()
    if len(bad) == 0:
        return
    for wrong, message, first in hints:
        if (((got.float() - wrong.float()) ** 2).mean(0)[first:] / scale).max() < 1e-4:
            raise ExerciseFailed(message)
    point = int(bad[0])
    raise ExerciseFailed(
        f"{what} is off first at point {point} (mean squared difference {gap[point]:.3g} "
        f"of y's variance): got {got[0, point].item():.4f} for prompt 0, expected "
        f"{want[0, point].item():.4f}"
    )


# -- checks ----------------------------------------------------------------------------


@exercise("least_squares_predictions", reference=_least_squares_predictions)
def check_least_squares_predictions(fn) -> None:
    """fn(xs, ys) -> [batch, point]: at each point i, the minimum-norm least-squares fit
    to the examples before i, applied to x_i (0 at point 0)."""
    xs, ys = _prompts()
    want = _least_squares_predictions(xs, ys)
    dim = xs.shape[-1]
    # A fit that includes (x_i, y_i) predicts y_i itself once there are dim examples.
    hints = [
        (
            ys,
            "your predictions are y_i itself: the fit at point i must use only the "
            "examples before i (j < i), not (x_i, y_i)",
            dim,
        ),
    ]
    ridge = baselines.ridge(xs, ys, alpha=1.0)
    hints.append(
        (ridge, "these are ridge predictions (alpha = 1): plain least squares has no penalty", 0)
    )
    _assert_close_per_point(
        fn(xs.clone(), ys.clone()), want, "least_squares_predictions", dim, hints
    )
    # Below dim examples the fit is not unique; the minimum-norm one is asked for.
    _assert_close_per_point(
        fn(xs[:, : dim + 1].clone(), ys[:, : dim + 1].clone()),
        want[:, : dim + 1],
        "least_squares_predictions on prompts of dim + 1 points",
        dim,
        [],
    )


@exercise("gd_predictions", reference=_gd_predictions)
def check_gd_predictions(fn) -> None:
    """fn(xs, ys, lr, steps) -> [batch, point]: `steps` steps of gradient descent on the
    mean squared error of the examples before each point, from w = 0, applied to x_i."""
    xs, ys = _prompts()
    dim = xs.shape[-1]
    for lr, steps in ((0.5, 1), (0.3, 3)):
        want = _gd_predictions(xs, ys, lr, steps)
        hints = []
        if steps == 1:
            i = torch.arange(xs.shape[1]).clamp(min=1)
            summed = want * i  # one step on the summed error is i times the step on the mean
            hints.append(
                (
                    summed,
                    f"with lr={lr}, steps=1 your step is i times too big at point i: "
                    "take the gradient of the mean squared error (divide by the number of "
                    "examples), not of the sum",
                    1,
                )
            )
            hints.append(
                (-want, "the sign is flipped: step against the gradient, w - lr * grad", 1)
            )
        _assert_close_per_point(
            fn(xs.clone(), ys.clone(), lr, steps),
            want,
            f"gd_predictions with lr={lr}, steps={steps}",
            dim,
            hints,
        )


@functools.cache
def _influence_models() -> tuple[torch.nn.Module, ...]:
    from toyhelpers.models import build_model, config_class

    dim, n_points = 5, 12
    linear = config_class("linear_attention")(dim=dim, n_points=n_points)
    small = config_class("icl_transformer")(
        dim=dim, n_points=n_points, n_layers=2, d_model=32, n_heads=2
    )
    return tuple(build_model(c, seed=3).eval() for c in (linear, small))


@exercise("influence", reference=_influence)
def check_influence(fn) -> None:
    """fn(model, xs, ys, point) -> [batch, point]: d prediction_point / d y_j for each
    earlier example j, per prompt."""
    xs, ys = _prompts()
    for model in _influence_models():
        kind = model.toy_config.kind
        for point in (3, 9):
            want = _influence(model, xs, ys, point)
            got = as_tensor(fn(model, xs.clone(), ys.clone(), point), f"influence at point {point}")
            if tuple(got.shape) != tuple(want.shape):
                raise ExerciseFailed(
                    f"influence at point {point} has shape {tuple(got.shape)}, expected "
                    f"{tuple(want.shape)} [batch example]: one number per prompt and per "
                    f"example before the point (j < {point})"
                )
            with torch.enable_grad():
                ys_ = ys.clone().requires_grad_(True)
                (total,) = torch.autograd.grad(model(xs, ys_).sum(), ys_)
            scale = want.abs().mean().item() + 1e-8
            if (got.float() - total[:, :point]).abs().mean().item() < 1e-3 * scale and not (
                (want - total[:, :point]).abs().mean().item() < 1e-3 * scale
            ):
                raise ExerciseFailed(
                    "these are the derivatives of the sum of all predictions: differentiate "
                    f"the prediction at point {point} only"
                )
            # A finite difference is a fine answer too: allow its small error.
            gap = (got.float() - want).abs().mean().item()
            if gap > 2e-2 * scale:
                raise ExerciseFailed(
                    f"influence at point {point} on the {kind} model differs from d "
                    f"prediction / d y_j by {gap:.3g} on average (typical size {scale:.3g}); "
                    f"prompt 0: got {got[0, :3].tolist()}, expected {want[0, :3].tolist()}"
                )


@exercise("probe_r2", reference=_probe_r2)
def check_probe_r2(fn) -> None:
    """fn(features, targets) -> float: fit targets ~ features @ W + b by least squares on
    the first 80% of rows, return R^2 on the rest (pooled over target columns, each
    measured from its mean on the held-out rows)."""
    gen = torch.Generator().manual_seed(21)
    features = torch.randn(400, 12, generator=gen)
    mixing = torch.randn(12, 3, generator=gen)
    for noise in (0.5, 2.0):
        targets = features @ mixing + 1.0 + noise * torch.randn(400, 3, generator=gen)
        want = _probe_r2(features, targets)
        got = fn(features.clone(), targets.clone())
        value = as_number(got, "probe_r2 (one R^2, pooled over the target columns)")
        n_train = 320
        X = torch.cat([features, torch.ones(400, 1)], 1).double()
        coef = torch.linalg.lstsq(X[:n_train], targets[:n_train].double()).solution
        train_r2 = (
            1
            - (targets[:n_train] - X[:n_train] @ coef).pow(2).sum()
            / (targets[:n_train] - targets[:n_train].mean(0)).pow(2).sum()
        )
        if abs(value - train_r2.item()) < 1e-3 and abs(want - train_r2.item()) > 1e-3:
            raise ExerciseFailed(
                f"R^2 = {value:.4f} is the fit's R^2 on its own training rows: measure it on "
                "the held-out 20%, which the probe never saw"
            )
        if abs(value - want) > 5e-3:
            raise ExerciseFailed(
                f"probe_r2 = {value:.4f} with noise {noise}, expected {want:.4f}: fit with an "
                "intercept on the first 80% of rows, then 1 - SSE / SST on the rest"
            )
