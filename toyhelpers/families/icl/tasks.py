"""In-context learning of functions from examples (seed problems 3.13, 3.14). Used in
lessons 21 (icl_regression) and 22 (icl_function_classes).

A prompt is `n_points` examples `(x_i, y_i)` of one function f, drawn afresh for every
prompt: `x_i ~ N(0, I_dim)` and `y_i = f(x_i) + noise * N(0, 1)`. The model sees them in
order and must predict every `y_i` from the examples before it and `x_i`; nothing about
f is stored in its weights, so it has to learn the function from the prompt (Garg et al.
2022, "What can transformers learn in-context?").

Inputs are real vectors, not tokens: a batch is a `Points` (`xs [n, n_points, dim]`,
`ys [n, n_points]`), and the models of this family (`icl/models.py`) read it through a
linear read-in. Every prompt is scored at every point, so each number of examples, from
none to `n_points - 1`, weighs the same in training and evaluation: the regime with
fewer examples than dimensions, where the answer is not determined and a model must
guess well (the minimum-norm solution for Gaussian weights), is a third of the data, not
a corner. Importing this module needs torch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.tasks import (
    Task,
    bool_setting,
    float_setting,
    int_setting,
    make_generator,
    register,
)

MAX_POINTS = 128


@dataclass(frozen=True)
class Points:
    """A batch of prompts: example `i` of prompt `b` is `(xs[b, i], ys[b, i])`."""

    xs: Float[Tensor, "batch point dim"]
    ys: Float[Tensor, "batch point"]

    def __len__(self) -> int:
        return self.xs.shape[0]

    def to(self, device: torch.device | str) -> Points:
        return Points(self.xs.to(device), self.ys.to(device))

    def __getitem__(self, index: slice | Tensor) -> Points:
        return Points(self.xs[index], self.ys[index])


@dataclass(frozen=True)
class InContextTask(Task):
    """Prompts of `n_points` examples `(x, f(x) + noise)` of a random function f per prompt.

    Subclasses say how f is drawn (`_draw_functions`) and applied (`_apply`), and the
    variance of f(x) (`signal_variance`), which normalises the errors so that predicting
    0 always scores about 1.
    """

    lower_is_better: ClassVar[tuple[str, ...]] = ("loss", "error", "error_late")

    dim: int = int_setting(8, 1, 64)
    n_points: int = int_setting(24, 2, MAX_POINTS)
    noise: float = float_setting(0.0, 0.0, 10.0, lo_allowed=True)

    # -- what subclasses provide ------------------------------------------------------
    def _draw_functions(self, n: int, gen: torch.Generator) -> dict[str, Tensor]:
        raise NotImplementedError

    def _apply(self, params: dict[str, Tensor], xs: Float[Tensor, "n point dim"]) -> Tensor:
        raise NotImplementedError

    @property
    def signal_variance(self) -> float:
        raise NotImplementedError

    # -- shared behaviour ---------------------------------------------------------------
    @property
    def vocab(self) -> list[str]:
        return []  # real-valued inputs: there are no tokens

    @property
    def seq_len(self) -> int:
        """Positions a transformer reads: `x_0 y_0 x_1 y_1 ...`, two per example."""
        return 2 * self.n_points

    @property
    def late_start(self) -> int:
        """The first point with at least `2 * dim` examples before it (`error_late` scores
        points from here on; the last point if there are not that many)."""
        return min(2 * self.dim, self.n_points - 1)

    def draw(
        self, n: int, seed: int = 0, device: torch.device | str = "cpu"
    ) -> tuple[Points, dict[str, Tensor]]:
        """`generate(n, seed)` and the functions behind its prompts (e.g. `"w"` for the
        linear tasks), for checking what a model recovered against the truth."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        batch, params = self._draw(n, make_generator(seed))
        return batch.to(device), {k: v.to(device) for k, v in params.items()}

    def apply(
        self, params: dict[str, Tensor], xs: Float[Tensor, "batch point dim"]
    ) -> Float[Tensor, "batch point"]:
        """Each prompt's function, from `draw`'s `params`, at new inputs `xs` (noiseless):
        the truth to compare a model with when the inputs are changed."""
        if xs.ndim != 3 or xs.shape[-1] != self.dim:
            raise ValueError(
                f"xs must have shape [batch, point, {self.dim}], got {tuple(xs.shape)}"
            )
        return self._apply(params, xs)

    def _draw(self, n: int, gen: torch.Generator) -> tuple[Points, dict[str, Tensor]]:
        # Functions first, then inputs, then noise: one stream, so a seed fixes all three.
        params = self._draw_functions(n, gen)
        xs = torch.randn(n, self.n_points, self.dim, generator=gen, device=gen.device)
        ys = self._apply(params, xs)
        if self.noise > 0:
            ys = ys + self.noise * torch.randn(ys.shape, generator=gen, device=gen.device)
        return Points(xs, ys), params

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Points:  # type: ignore[override]
        return self._draw(n, gen)[0]

    def outputs(self, model: torch.nn.Module, batch: Points) -> Float[Tensor, "batch point"]:  # type: ignore[override]
        return model(batch.xs, batch.ys)

    def predict(self, model: torch.nn.Module, batch: Points) -> Float[Tensor, "batch point"]:
        """The model's prediction of every `y_i` from the examples before it and `x_i`."""
        from toyhelpers.models import check_fits, core_module

        check_fits(model, self)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            out = self.outputs(core_module(model), batch)
        model.train(was_training)
        return out

    def errors(
        self, predictions: Float[Tensor, "batch point"], batch: Points
    ) -> Float[Tensor, " point"]:
        """Normalised squared error at each point, averaged over prompts: 1 is the score
        of always answering 0, and the noise alone costs `noise**2 / signal_variance`."""
        predictions = torch.as_tensor(predictions, dtype=batch.ys.dtype, device=batch.ys.device)
        if predictions.shape != batch.ys.shape:
            raise ValueError(
                f"predictions must have the shape of ys, {tuple(batch.ys.shape)}, got "
                f"{tuple(predictions.shape)}"
            )
        return ((predictions - batch.ys) ** 2).mean(0) / self.signal_variance

    def loss(self, predictions: Float[Tensor, "batch point"], batch: Points) -> Float[Tensor, ""]:  # type: ignore[override]
        return ((predictions - batch.ys) ** 2).mean() / self.signal_variance

    @torch.no_grad()
    def metrics(self, predictions: Float[Tensor, "batch point"], batch: Points) -> dict[str, float]:  # type: ignore[override]
        """`loss` (the normalised squared error over every point, the training objective)
        and `error_late`, the same from `late_start` on."""
        errors = self.errors(predictions, batch)
        return {"loss": errors.mean().item(), "error_late": errors[self.late_start :].mean().item()}


@register("icl_linear")
@dataclass(frozen=True)
class InContextLinear(InContextTask):
    """`y = w . x (+ b)` with `w ~ N(0, I_dim)` (and `b ~ N(0, 1)` with `bias=True`)."""

    description = "in-context linear regression: y = w.x, a fresh w ~ N(0, I) per prompt"

    bias: bool = bool_setting(False)

    def _draw_functions(self, n: int, gen: torch.Generator) -> dict[str, Tensor]:
        w = torch.randn(n, self.dim, generator=gen, device=gen.device)
        b = torch.randn(n, generator=gen, device=gen.device) if self.bias else w.new_zeros(n)
        return {"w": w, "b": b}

    def _apply(self, params: dict[str, Tensor], xs: Float[Tensor, "n point dim"]) -> Tensor:
        return torch.einsum("npd,nd->np", xs, params["w"]) + params["b"][:, None]

    @property
    def signal_variance(self) -> float:
        return self.dim + self.bias


@register("icl_sparse")
@dataclass(frozen=True)
class InContextSparse(InContextLinear):
    """`y = w . x` where only `n_nonzero` coordinates of w, chosen per prompt, are non-zero."""

    description = "in-context sparse regression: y = w.x, w with n_nonzero non-zero entries"

    n_nonzero: int = int_setting(2, 1, 64)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_nonzero > self.dim:
            raise ValueError(
                f"n_nonzero={self.n_nonzero} is more non-zero coordinates than dim={self.dim} "
                f"has; choose n_nonzero in 1..{self.dim}"
            )

    def _draw_functions(self, n: int, gen: torch.Generator) -> dict[str, Tensor]:
        params = super()._draw_functions(n, gen)
        order = torch.rand(n, self.dim, generator=gen, device=gen.device).argsort(dim=1)
        keep = torch.zeros(n, self.dim, dtype=torch.bool, device=gen.device)
        keep.scatter_(1, order[:, : self.n_nonzero], True)
        params["w"] = params["w"] * keep
        return params

    @property
    def signal_variance(self) -> float:
        return self.n_nonzero + self.bias


@register("icl_tree")
@dataclass(frozen=True)
class InContextTree(InContextTask):
    """A random depth-`depth` decision tree: internal node k tests whether coordinate
    `feature[k]` of x is positive, and the leaf reached holds `value ~ N(0, 1)`."""

    description = "in-context decision trees: y = the leaf a random sign-splitting tree reaches"

    depth: int = int_setting(4, 1, 8)

    def _draw_functions(self, n: int, gen: torch.Generator) -> dict[str, Tensor]:
        nodes, leaves = 2**self.depth - 1, 2**self.depth
        feature = torch.randint(0, self.dim, (n, nodes), generator=gen, device=gen.device)
        value = torch.randn(n, leaves, generator=gen, device=gen.device)
        return {"feature": feature, "value": value}

    def leaf(
        self, feature: Int[Tensor, "n node"], xs: Float[Tensor, "n point dim"]
    ) -> Int[Tensor, "n point"]:
        """The leaf (0..2**depth - 1) each input reaches: heap order, right when positive."""
        node = torch.zeros(xs.shape[:2], dtype=torch.long, device=xs.device)
        for _ in range(self.depth):
            coord = feature.gather(1, node)
            right = xs.gather(2, coord[..., None])[..., 0] > 0
            node = 2 * node + 1 + right.long()
        return node - (2**self.depth - 1)

    def _apply(self, params: dict[str, Tensor], xs: Float[Tensor, "n point dim"]) -> Tensor:
        return params["value"].gather(1, self.leaf(params["feature"], xs))

    @property
    def signal_variance(self) -> float:
        return 1.0


@register("icl_mlp")
@dataclass(frozen=True)
class InContextMLP(InContextTask):
    """A random 2-layer ReLU net `y = c * v . relu(W x)`, `W [hidden, dim]` and `v` standard
    normal, `c = sqrt(2 / (hidden * dim))` so that y has variance about 1."""

    description = "in-context 2-layer ReLU nets: y = v.relu(Wx), fresh random W, v per prompt"

    hidden: int = int_setting(16, 1, 256)

    def _draw_functions(self, n: int, gen: torch.Generator) -> dict[str, Tensor]:
        W = torch.randn(n, self.hidden, self.dim, generator=gen, device=gen.device)
        v = torch.randn(n, self.hidden, generator=gen, device=gen.device)
        return {"W": W, "v": v}

    def _apply(self, params: dict[str, Tensor], xs: Float[Tensor, "n point dim"]) -> Tensor:
        hidden = torch.relu(torch.einsum("npd,nhd->nph", xs, params["W"]))
        return math.sqrt(2 / (self.hidden * self.dim)) * torch.einsum(
            "nph,nh->np", hidden, params["v"]
        )

    @property
    def signal_variance(self) -> float:
        return 1.0
