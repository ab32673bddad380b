"""Classical learners fitted in context, on the same prompts a model reads. Used in
lessons 21 (icl_regression) and 22 (icl_function_classes).

Each function takes prompts `xs [batch, point, dim]`, `ys [batch, point]` and returns what
the learner predicts at every point i from the examples before it: `[batch, point]`, 0 at
point 0 (no examples). These are the baselines a model's error curve is drawn against,
and the candidate algorithms its predictions are compared with.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

Prompts = tuple[Float[Tensor, "batch point dim"], Float[Tensor, "batch point"]]
Learner = Callable[[Tensor, Tensor], Float[Tensor, "batch point"]]


def _per_point(
    xs: Float[Tensor, "batch point dim"],
    ys: Float[Tensor, "batch point"],
    fit: Callable[[Tensor, Tensor], Float[Tensor, "batch dim"]],
) -> Float[Tensor, "batch point"]:
    """Predictions of a linear learner: `fit(X, y)` gives weights from the first i examples."""
    xs, ys = xs.double(), ys.double()
    out = torch.zeros(ys.shape, dtype=torch.float64, device=ys.device)
    for i in range(1, xs.shape[1]):
        w = fit(xs[:, :i], ys[:, :i])
        out[:, i] = (xs[:, i] * w).sum(-1)
    return out.float()


def least_squares_weights(
    X: Float[Tensor, "batch n dim"], y: Float[Tensor, "batch n"]
) -> Float[Tensor, "batch dim"]:
    """The minimum-norm least-squares fit `pinv(X) y`: the exact solution once there are
    `dim` independent examples, and the smallest w that fits them before."""
    return (torch.linalg.pinv(X) @ y[..., None])[..., 0]


def least_squares(xs: Tensor, ys: Tensor) -> Float[Tensor, "batch point"]:
    """Minimum-norm least squares on the examples before each point (Bayes-optimal for
    noiseless Gaussian w: the posterior mean of w is exactly this)."""
    return _per_point(xs, ys, least_squares_weights)


def ridge_weights(
    X: Float[Tensor, "batch n dim"], y: Float[Tensor, "batch n"], alpha: float
) -> Float[Tensor, "batch dim"]:
    """`(X^T X + alpha I)^-1 X^T y`. With noise sigma and w ~ N(0, I), alpha = sigma^2 is
    the posterior mean, so ridge is the optimal learner for noisy prompts."""
    eye = torch.eye(X.shape[-1], dtype=X.dtype, device=X.device)
    gram = X.transpose(-1, -2) @ X + alpha * eye
    return torch.linalg.solve(gram, (X.transpose(-1, -2) @ y[..., None]))[..., 0]


def ridge(xs: Tensor, ys: Tensor, alpha: float = 1.0) -> Float[Tensor, "batch point"]:
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha!r}")
    return _per_point(xs, ys, lambda X, y: ridge_weights(X, y, alpha))


def gradient_descent_weights(
    X: Float[Tensor, "batch n dim"], y: Float[Tensor, "batch n"], lr: float, steps: int
) -> Float[Tensor, "batch dim"]:
    """`steps` steps of full-batch gradient descent on `(1/2n) |Xw - y|^2` from w = 0."""
    n = X.shape[1]
    w = torch.zeros(X.shape[0], X.shape[2], dtype=X.dtype, device=X.device)
    for _ in range(steps):
        residual = (X @ w[..., None])[..., 0] - y
        w = w - lr / n * (X.transpose(-1, -2) @ residual[..., None])[..., 0]
    return w


def gradient_descent(
    xs: Tensor, ys: Tensor, lr: float = 1.0, steps: int = 1
) -> Float[Tensor, "batch point"]:
    """`steps` steps of gradient descent with step size `lr` on the examples before each
    point (von Oswald et al. 2023: one step is what one layer of linear attention can do)."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    return _per_point(xs, ys, lambda X, y: gradient_descent_weights(X, y, lr, steps))


def averaging(xs: Tensor, ys: Tensor) -> Float[Tensor, "batch point"]:
    """`w = mean_j y_j x_j`, unbiased for x ~ N(0, I) (Garg et al.'s averaging baseline):
    one step of gradient descent with step size 1."""
    return gradient_descent(xs, ys, lr=1.0, steps=1)


def nearest_neighbours(xs: Tensor, ys: Tensor, k: int = 3) -> Float[Tensor, "batch point"]:
    """The mean y of the (up to) `k` earlier examples closest to `x_i`."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    out = torch.zeros_like(ys)
    for i in range(1, xs.shape[1]):
        dist = (xs[:, :i] - xs[:, i : i + 1]).norm(dim=-1)
        nearest = dist.topk(min(k, i), dim=1, largest=False).indices
        out[:, i] = ys[:, :i].gather(1, nearest).mean(1)
    return out


def sign_agreement(xs: Tensor, ys: Tensor, beta: float = 1.5) -> Float[Tensor, "batch point"]:
    """A kernel average over the earlier examples, example j weighted by `exp(beta * a_j)`
    where `a_j` counts the coordinates on which `x_j` and `x_i` have the same sign. It
    knows that trees split on signs, not which coordinates a tree uses: every coordinate
    counts the same."""
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    signs = torch.sign(xs)
    agree = (signs[:, :, None, :] == signs[:, None, :, :]).sum(-1)  # batch query example
    earlier = torch.ones(xs.shape[1], xs.shape[1], dtype=torch.bool, device=xs.device).tril(-1)
    # Subtract the row maximum before exp: a shared factor, so the weights are unchanged.
    scores = (beta * agree.to(ys.dtype)).masked_fill(~earlier, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # point 0 has no examples: 0
    return (weights * ys[:, None, :]).sum(-1)


def sklearn_learner(make: Callable[[], object], xs: Tensor, ys: Tensor, first: int = 1) -> Tensor:
    """Predictions of a scikit-learn regressor refitted on the examples before each point
    (`make()` builds a fresh one); points before `first` get 0. Slow (one fit per prompt
    and point): use on a few hundred prompts."""
    X, Y = xs.detach().cpu().numpy(), ys.detach().cpu().numpy()
    out = np.zeros(Y.shape, dtype=np.float64)
    for b in range(X.shape[0]):
        for i in range(max(first, 1), X.shape[1]):
            model = make()
            model.fit(X[b, :i], Y[b, :i])  # type: ignore[attr-defined]
            out[b, i] = model.predict(X[b, i : i + 1])[0]  # type: ignore[attr-defined]
    return torch.tensor(out, dtype=ys.dtype, device=ys.device)


def relative_distance(a: Tensor, b: Tensor, scale: float) -> Float[Tensor, " point"]:
    """Mean squared difference of two learners' predictions at each point, over `scale`
    (the task's `signal_variance`): 0 when they agree, about 1 when one answers 0."""
    a, b = torch.as_tensor(a).float(), torch.as_tensor(b).float()
    return ((a - b.to(a.device)) ** 2).mean(0) / scale


def lasso(xs: Tensor, ys: Tensor, alpha: float = 0.1) -> Float[Tensor, "batch point"]:
    """scikit-learn's Lasso (L1-penalised least squares, no intercept) refitted at each
    point: the classical learner for sparse w, which can be right with fewer examples
    than dimensions. One fit per prompt and point: use a few hundred prompts."""
    from sklearn.linear_model import Lasso

    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha!r}")
    return sklearn_learner(lambda: Lasso(alpha=alpha, fit_intercept=False, max_iter=10_000), xs, ys)


def greedy_tree(
    xs: Tensor, ys: Tensor, max_depth: int | None = None
) -> Float[Tensor, "batch point"]:
    """A regression tree grown greedily (scikit-learn's CART) on the examples before each
    point; `max_depth` None grows it until every leaf is pure."""
    from sklearn.tree import DecisionTreeRegressor

    return sklearn_learner(lambda: DecisionTreeRegressor(max_depth=max_depth), xs, ys)


def _net(x: Tensor, W: Tensor, b: Tensor, v: Tensor, c: Tensor) -> Float[Tensor, "batch n"]:
    """A batch of 2-layer ReLU nets, one per prompt: `v . relu(W x + b) + c`."""
    h = torch.relu(torch.einsum("bnd,bhd->bnh", x, W) + b[:, None])
    return torch.einsum("bnh,bh->bn", h, v) + c[:, None]


def fitted_net(
    xs: Tensor, ys: Tensor, hidden: int = 16, steps: int = 300, lr: float = 0.02, seed: int = 0
) -> Float[Tensor, "batch point"]:
    """A 2-layer ReLU net with `hidden` units fitted by Adam to the examples before each
    point (squared error, `steps` full-batch steps), one net per prompt and point, all
    trained at once as a batch of independent weights."""
    gen = torch.Generator().manual_seed(seed)
    batch, points, dim = xs.shape
    out = torch.zeros_like(ys)
    for i in range(1, points):
        W = (torch.randn(batch, hidden, dim, generator=gen) / dim**0.5).requires_grad_(True)
        b = torch.zeros(batch, hidden, requires_grad=True)
        v = (torch.randn(batch, hidden, generator=gen) / hidden**0.5).requires_grad_(True)
        c = torch.zeros(batch, requires_grad=True)
        opt = torch.optim.Adam([W, b, v, c], lr=lr)

        X, y = xs[:, :i].cpu(), ys[:, :i].cpu()
        for _ in range(steps):
            opt.zero_grad()
            # Summed over prompts: each net's gradient is its own prompt's mean error.
            ((_net(X, W, b, v, c) - y) ** 2).mean(1).sum().backward()
            opt.step()
        with torch.no_grad():
            out[:, i] = _net(xs[:, i : i + 1].cpu(), W, b, v, c)[:, 0].to(out.device)
    return out
