"""Checks of the in-context lessons, 21 (icl_regression) and 22 (icl_function_classes):
each runs the learner's function and a reference on fixed prompts (and, where a model is
involved, on small models built from a seed), and says what the usual mistake looks like."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, as_number, as_tensor, assert_tensor, exercise
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


def _derivative(
    model: torch.nn.Module,
    xs: Float[Tensor, "batch point dim"],
    ys: Float[Tensor, "batch point"],
    point: int,
    wrt: str,
    only_point: bool = True,
) -> Tensor:
    """d prediction_point (or, with `only_point=False`, d of all predictions: the usual
    mistake) with respect to `wrt`, "xs" or "ys", per prompt (prompts are independent)."""
    inputs = {"xs": xs.clone(), "ys": ys.clone()}
    with torch.enable_grad():  # also when called under torch.no_grad()
        inputs[wrt].requires_grad_(True)
        out = model(inputs["xs"], inputs["ys"])
        (grad,) = torch.autograd.grad((out[:, point] if only_point else out).sum(), inputs[wrt])
    return grad


def _influence(
    model: torch.nn.Module,
    xs: Float[Tensor, "batch point dim"],
    ys: Float[Tensor, "batch point"],
    point: int,
) -> Float[Tensor, "batch example"]:
    return _derivative(model, xs, ys, point, "ys")[:, :point]


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


def _check_per_model(
    fn,
    reference,
    what: str,
    shape_hint: str,
    wrong_answers: list[tuple[Callable[..., Tensor], str]],
    tol: float,
) -> None:
    """Run `fn(model, xs, ys, point)` on the small models of `_influence_models` at two
    points and compare with `reference` within `tol` of the answer's typical size (so a
    finite difference passes); an answer that matches one of `wrong_answers` instead
    gets its explanation. `shape_hint` says what one row of the answer holds."""
    xs, ys = _prompts()
    for model in _influence_models():
        kind = model.toy_config.kind
        for point in (3, 9):
            want = reference(model, xs, ys, point)
            got = as_tensor(fn(model, xs.clone(), ys.clone(), point), f"{what} at point {point}")
            if tuple(got.shape) != tuple(want.shape):
                raise ExerciseFailed(
                    f"{what} at point {point} has shape {tuple(got.shape)}, expected "
                    f"{tuple(want.shape)}: {shape_hint.format(point=point)}"
                )
            scale = want.abs().mean().item() + 1e-8
            gap = (got.float() - want).abs().mean().item()
            if gap <= tol * scale:
                continue
            for wrong, message in wrong_answers:
                alternative = wrong(model, xs, ys, point)
                if (got.float() - alternative).abs().mean().item() <= tol * scale:
                    raise ExerciseFailed(message.format(point=point))
            raise ExerciseFailed(
                f"{what} at point {point} on the {kind} model differs from the expected "
                f"values by {gap:.3g} on average (typical size {scale:.3g}); prompt 0: got "
                f"{[round(v, 4) for v in got[0, :3].tolist()]}, expected "
                f"{[round(v, 4) for v in want[0, :3].tolist()]}"
            )


def _influence_of_all_predictions(model, xs, ys, point):
    return _derivative(model, xs, ys, point, "ys", only_point=False)[:, :point]


@exercise("influence", reference=_influence)
def check_influence(fn) -> None:
    """fn(model, xs, ys, point) -> [batch, point]: d prediction_point / d y_j for each
    earlier example j, per prompt."""
    _check_per_model(
        fn,
        _influence,
        "influence",
        "[batch example], one number per prompt and per example before the point (j < {point})",
        [
            (
                _influence_of_all_predictions,
                "these are the derivatives of the sum of all predictions: differentiate "
                "the prediction at point {point} only",
            ),
        ],
        tol=2e-2,  # a finite difference is a fine answer too: allow its small error
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


# ======================================================================================
# Lesson 22 · icl_function_classes
# ======================================================================================

# -- references ------------------------------------------------------------------------


def _implied_weights(
    model: torch.nn.Module,
    xs: Float[Tensor, "batch point dim"],
    ys: Float[Tensor, "batch point"],
    point: int,
) -> Float[Tensor, "batch dim"]:
    return _derivative(model, xs, ys, point, "xs")[:, point]


def _support_share(
    weights: Float[Tensor, "batch dim"], w_true: Float[Tensor, "batch dim"]
) -> Float[Tensor, " batch"]:
    on_support = (w_true != 0).to(weights.dtype)
    return (weights**2 * on_support).sum(-1) / (weights**2).sum(-1).clamp(min=1e-12)


def _path_coordinates(
    feature: Int[Tensor, "batch node"], x: Float[Tensor, "batch dim"], depth: int
) -> Bool[Tensor, "batch dim"]:
    rows = torch.arange(x.shape[0], device=x.device)
    node = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    tested = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    for _ in range(depth):
        coord = feature[rows, node]
        tested[rows, coord] = True
        node = 2 * node + 1 + (x[rows, coord] > 0).long()
    return tested


def _flip_effect(
    model: torch.nn.Module,
    xs: Float[Tensor, "batch point dim"],
    ys: Float[Tensor, "batch point"],
    point: int,
    signed: bool = False,
    every_example: bool = False,
) -> Float[Tensor, "batch dim"]:
    """The answer; `signed` and `every_example` (flip coordinate d of all xs) give the two
    usual mistakes."""
    where = slice(None) if every_example else point
    with torch.no_grad():
        base = model(xs, ys)[:, point]
        effects = []
        for d in range(xs.shape[-1]):
            flipped = xs.clone()
            flipped[:, where, d] = -flipped[:, where, d]
            change = model(flipped, ys)[:, point] - base
            effects.append(change if signed else change.abs())
    return torch.stack(effects, dim=-1)


# -- fixed cases -------------------------------------------------------------------------


@functools.cache
def _trees(n: int = 64, seed: int = 22) -> tuple[Tensor, Tensor, int]:
    """Trees of depth 3 in 5 dimensions, and one query input for each."""
    from toyhelpers.tasks import get_task

    task = get_task("icl_tree", dim=5, depth=3, n_points=2)
    batch, params = task.draw(n, seed=seed)
    return params["feature"], batch.xs[:, 0], task.depth


# -- checks ----------------------------------------------------------------------------


def _gradient_of_all_predictions(model, xs, ys, point):
    return _derivative(model, xs, ys, point, "xs", only_point=False)[:, point]


@exercise("implied_weights", reference=_implied_weights)
def check_implied_weights(fn) -> None:
    """fn(model, xs, ys, point) -> [batch, dim]: d prediction_point / d x_point, the
    weight vector the model applies to the query at that point."""
    _check_per_model(
        fn,
        _implied_weights,
        "implied_weights",
        "[batch dim], one number per prompt and coordinate of x_{point}",
        [
            (
                _gradient_of_all_predictions,
                "these are the derivatives of the sum of all predictions: x_point also "
                "feeds later predictions, so differentiate the prediction at the point only",
            ),
        ],
        tol=2e-2,
    )


@exercise("support_share", reference=_support_share)
def check_support_share(fn) -> None:
    """fn(weights, w_true) -> [batch]: the share of each weight vector's squared norm that
    lies on the coordinates where the true w is non-zero."""
    from toyhelpers.tasks import get_task

    task = get_task("icl_sparse", dim=8, n_nonzero=2)
    _, params = task.draw(64, seed=22)
    w_true = params["w"]
    gen = torch.Generator().manual_seed(22)
    weights = w_true + 0.5 * torch.randn(w_true.shape, generator=gen)
    want = _support_share(weights, w_true)
    got = as_tensor(fn(weights.clone(), w_true.clone()), "support_share")
    on = (w_true != 0).float()
    l1 = (weights.abs() * on).sum(-1) / weights.abs().sum(-1)
    assert_tensor(
        got,
        want,
        "support_share",
        dims="batch",
        mistakes=[
            (
                l1,
                "this is the share of the absolute values |w|: measure the share of the "
                "squared norm, sum of w_d^2 on the support over the sum of all w_d^2",
            ),
            (1 - want, "this is the share off the support: the share ON it is asked for"),
        ],
    )
    # An exact answer puts all its weight on the support.
    exact = as_tensor(fn(w_true.clone(), w_true.clone()), "support_share of the true w")
    if not torch.allclose(exact.float(), torch.ones(len(w_true)), atol=1e-5):
        raise ExerciseFailed(f"the true w itself should score 1, got {exact[:4].tolist()}")


@exercise("path_coordinates", reference=_path_coordinates)
def check_path_coordinates(fn) -> None:
    """fn(feature, x, depth) -> [batch, dim] bool: True for the coordinates the tree
    tests on the way from the root to the leaf x reaches."""
    feature, x, depth = _trees()
    want = _path_coordinates(feature, x, depth)
    got = as_tensor(fn(feature.clone(), x.clone(), depth), "path_coordinates")
    if got.dtype.is_floating_point or got.dtype == torch.long:
        if not ((got == 0) | (got == 1)).all():
            raise ExerciseFailed(
                "path_coordinates should be True/False (or 1/0) per coordinate, got other values"
            )
        got = got.bool()
    mirrored = _path_coordinates(feature, -x, depth)
    anywhere = torch.zeros_like(want)
    anywhere.scatter_(1, feature, True)
    assert_tensor(
        got,
        want,
        "path_coordinates",
        dims="batch dim",
        mistakes=[
            (
                mirrored,
                "you follow the wrong branch: a node sends x to its right child (2k + 2) "
                "when the tested coordinate is positive, to the left (2k + 1) otherwise",
            ),
            (
                anywhere,
                "these are all the coordinates the tree tests anywhere: keep only the "
                "nodes on x's own path, one per level",
            ),
        ],
    )


@exercise("flip_effect", reference=_flip_effect)
def check_flip_effect(fn) -> None:
    """fn(model, xs, ys, point) -> [batch, dim]: how much the prediction at `point`
    moves (absolute change) when coordinate d of x_point alone changes sign."""
    _check_per_model(
        fn,
        _flip_effect,
        "flip_effect",
        "[batch dim], one number per prompt and coordinate of x_{point}",
        [
            (
                functools.partial(_flip_effect, signed=True),
                "these are signed changes: report the size of the change, |new - old|",
            ),
            (
                functools.partial(_flip_effect, every_example=True),
                "you flipped coordinate d of every x in the prompt: flip it in x_point "
                "only, so that the examples stay as the model saw them",
            ),
        ],
        tol=1e-3,
    )
