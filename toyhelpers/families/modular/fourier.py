"""The Fourier toolkit over Z_p for the modular-arithmetic notebooks (06-11).

A function on Z_p is a vector of p values; the Fourier basis writes it as a constant plus
waves cos(2πkx/p), sin(2πkx/p) for frequencies k = 1..p//2. A grokked modular-addition
model uses only a few "key" frequencies, which these helpers find and test:

- `fourier_basis`, `to_fourier`, `to_fourier_2d`: change of basis for embeddings (over
  x), neuron activations and logits (over the (a, b) grid of inputs);
- `frequency_fractions`, `key_frequencies`, `neuron_frequency_fractions`: where the norm
  lies, by frequency;
- `logit_grid`, `restricted_loss`, `excluded_loss`, `progress_measures`: the progress
  measures of Nanda et al., "Progress measures for grokking via mechanistic
  interpretability" (2023), computed from the logits on all p² inputs.

Every tensor indexed "by frequency" has p//2 + 1 entries: index k is frequency k and
index 0 the constant component.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping

import einops
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from toyhelpers.models import core_module


def fourier_basis(p: int) -> Float[Tensor, "component x"]:
    """Orthonormal rows: const, cos 1, sin 1, cos 2, sin 2, ... (see `fourier_names`).

    For even p the last row is cos p/2 alone (its sine is zero).
    """
    if not isinstance(p, int) or p < 2:
        raise ValueError(f"p must be an int >= 2, got {p!r}")
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.ones(p, dtype=torch.float64)]
    for k in range(1, p // 2 + 1):
        rows.append(torch.cos(2 * math.pi * k * x / p))
        if 2 * k != p:
            rows.append(torch.sin(2 * math.pi * k * x / p))
    basis = torch.stack(rows)
    return (basis / basis.norm(dim=-1, keepdim=True)).float()


def fourier_names(p: int) -> list[str]:
    """Labels of the rows of `fourier_basis(p)`: "const", "cos 1", "sin 1", ..."""
    names = ["const"]
    for k in range(1, p // 2 + 1):
        names += [f"cos {k}"] if 2 * k == p else [f"cos {k}", f"sin {k}"]
    return names


def component_frequency(p: int) -> Int[Tensor, " component"]:
    """The frequency of each row of `fourier_basis(p)` (0 for the constant)."""
    return torch.tensor([0 if n == "const" else int(n.split()[1]) for n in fourier_names(p)])


def to_fourier(x: Float[Tensor, "x ..."]) -> Float[Tensor, "component ..."]:
    """Coefficients in the Fourier basis along the first dim, e.g. W_E[:p] [p, d_model]."""
    basis = fourier_basis(x.shape[0]).to(x.device, x.dtype)
    return einops.einsum(basis, x, "component x, x ... -> component ...")


def to_fourier_2d(x: Float[Tensor, "a b ..."]) -> Float[Tensor, "comp_a comp_b ..."]:
    """Coefficients in the 2D Fourier basis over the (a, b) grid, e.g. neuron activations."""
    p = x.shape[0]
    if x.shape[1] != p:
        raise ValueError(f"expected a p x p grid in the first two dims, got shape {tuple(x.shape)}")
    basis = fourier_basis(p).to(x.device, x.dtype)
    return einops.einsum(basis, basis, x, "comp_a a, comp_b b, a b ... -> comp_a comp_b ...")


def frequency_norms(coeffs: Float[Tensor, "component ..."]) -> Float[Tensor, " freq"]:
    """Squared norm per frequency (cos k and sin k pooled, trailing dims summed)."""
    p = coeffs.shape[0]
    power = coeffs.pow(2).reshape(p, -1).sum(-1)
    out = torch.zeros(p // 2 + 1, dtype=power.dtype, device=power.device)
    return out.index_add_(0, component_frequency(p).to(power.device), power)


def frequency_fractions(
    x: Float[Tensor, "x ..."], include_constant: bool = False
) -> Float[Tensor, " freq"]:
    """Share of the squared norm of `x` (values over Z_p along dim 0) in each frequency.

    By default the constant component is left out (entry 0 is 0, the rest sum to 1):
    a constant offset says nothing about which waves the model uses.
    """
    norms = frequency_norms(to_fourier(x))
    if not include_constant:
        norms[0] = 0.0
    return norms / norms.sum().clamp_min(1e-30)


def key_frequencies(x: Float[Tensor, "x ..."], min_fraction: float = 0.05) -> list[int]:
    """Frequencies holding at least `min_fraction` of the non-constant squared norm of `x`.

    Sorted by share, largest first. `x` has values over Z_p along dim 0: an embedding
    `W_E[:p]` [p, d_model], or the unembedding `W_U[:, :p].T`. With 56 frequencies
    (p = 113) an unstructured matrix puts about 1.8% in each, so 0.05 picks out the few
    a grokked model concentrates on.
    """
    if not 0 < min_fraction <= 1:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction!r}")
    shares = frequency_fractions(x)
    order = shares.argsort(descending=True).tolist()
    return [k for k in order if k > 0 and shares[k] >= min_fraction]


def neuron_frequency_fractions(acts: Float[Tensor, "a b neuron"]) -> Float[Tensor, "neuron freq"]:
    """Share of each neuron's variance over the (a, b) grid explained by each frequency.

    Frequency k explains the 2D Fourier terms built from k alone: the linear waves in a
    or b (cos/sin k ⊗ const, const ⊗ cos/sin k) and the products of a k-wave in a with a
    k-wave in b. The constant term is not variance, so entry 0 is 0; the entries of a row
    sum to at most 1 (the rest lies in terms mixing two different frequencies).
    """
    p = acts.shape[0]
    power = to_fourier_2d(acts).pow(2)
    freq = component_frequency(p).to(acts.device)
    fa, fb = freq[:, None], freq[None, :]
    total = power.sum(dim=(0, 1)) - power[0, 0]
    shares = torch.zeros(acts.shape[-1], p // 2 + 1, dtype=acts.dtype, device=acts.device)
    for k in range(1, p // 2 + 1):
        terms = ((fa == k) & ((fb == k) | (fb == 0))) | ((fa == 0) & (fb == k))
        shares[:, k] = power[terms].sum(0) / total.clamp_min(1e-30)
    return shares


# -- logits on the (a, b) grid, restricted and excluded loss -----------------------------


def answer_grid(p: int, operation: str) -> Int[Tensor, "a b"]:
    """The right answer for every pair: (a + b) mod p for "add", (a - b) mod p for "sub"."""
    a, b = torch.arange(p)[:, None], torch.arange(p)[None, :]
    if operation == "add":
        return (a + b) % p
    if operation == "sub":
        return (a - b) % p
    raise ValueError(f"operation must be 'add' or 'sub', got {operation!r}")


def wave_directions(
    p: int, freqs: Iterable[int], operation: str = "add"
) -> Float[Tensor, "direction a b"]:
    """Unit vectors cos(w(a ∘ b)), sin(w(a ∘ b)) over the grid, w = 2πk/p, ∘ = + or -.

    For distinct k in 1..p//2 they are orthogonal to each other and to the constant,
    because every value of a ∘ b mod p occurs exactly p times on the grid.
    """
    answer = answer_grid(p, operation).double()
    rows = []
    for k in freqs:
        if not isinstance(k, int) or not 1 <= k <= p // 2:
            raise ValueError(f"frequencies must be ints in 1..{p // 2}, got {k!r}")
        w = 2 * math.pi * k / p
        rows += [torch.cos(w * answer), torch.sin(w * answer)]
    if not rows:
        return torch.zeros(0, p, p)
    dirs = torch.stack(rows)
    norms = dirs.flatten(1).norm(dim=-1)
    dirs = dirs[norms > 1e-6]  # sin(π(a ∘ b)) vanishes when k = p / 2
    return (dirs / dirs.flatten(1).norm(dim=-1)[:, None, None]).float()


def _key_part(
    logits: Float[Tensor, "a b d_vocab"], freqs: Iterable[int], operation: str
) -> Float[Tensor, "a b d_vocab"]:
    dirs = wave_directions(logits.shape[0], freqs, operation).to(logits.device, logits.dtype)
    coeffs = einops.einsum(dirs, logits, "direction a b, a b vocab -> direction vocab")
    return einops.einsum(dirs, coeffs, "direction a b, direction vocab -> a b vocab")


def restricted_logits(
    logits: Float[Tensor, "a b d_vocab"], freqs: Iterable[int], operation: str = "add"
) -> Float[Tensor, "a b d_vocab"]:
    """The logits with only the key frequencies kept.

    For each output logit separately, as a function on the (a, b) grid, keep its mean
    over the grid plus its projection on cos(w(a ∘ b)) and sin(w(a ∘ b)) for each key
    frequency; everything else (other frequencies, terms in a or b alone, noise) is
    removed. Needs the full grid: all p² inputs, not a split.
    """
    return logits.mean(dim=(0, 1), keepdim=True) + _key_part(logits, freqs, operation)


def excluded_logits(
    logits: Float[Tensor, "a b d_vocab"], freqs: Iterable[int], operation: str = "add"
) -> Float[Tensor, "a b d_vocab"]:
    """The logits with the key frequencies removed: minus their projection on
    cos(w(a ∘ b)) and sin(w(a ∘ b)) for each key frequency (the complement of what
    `restricted_logits` keeps, apart from the mean)."""
    return logits - _key_part(logits, freqs, operation)


def grid_loss(
    logits: Float[Tensor, "a b d_vocab"],
    operation: str = "add",
    mask: Bool[Tensor, "a b"] | None = None,
) -> float:
    """Mean cross-entropy of grid logits against the right answers, over `mask` (or all)."""
    p = logits.shape[0]
    target = answer_grid(p, operation).to(logits.device)
    if mask is not None:
        logits, target = logits[mask.to(logits.device)], target[mask.to(logits.device)]
    flat = logits.reshape(-1, logits.shape[-1]).float()
    return torch.nn.functional.cross_entropy(flat, target.reshape(-1)).item()


def restricted_loss(
    logits: Float[Tensor, "a b d_vocab"],
    freqs: Iterable[int],
    operation: str = "add",
    mask: Bool[Tensor, "a b"] | None = None,
    *,
    waves: str | None = None,
) -> float:
    """Loss of `restricted_logits` over `mask` (default: all pairs), against the answers
    of `operation`.

    The waves kept are those of `operation` too, unless `waves` names the other one: to
    ask how much of a subtraction model survives when only the addition waves
    cos(w(a + b)), sin(w(a + b)) are kept, use `operation="sub", waves="add"`. Stays near
    the full loss once the model's answer is carried by the key frequencies.
    """
    kept = restricted_logits(logits, freqs, waves or operation)
    return grid_loss(kept, operation, mask)


def excluded_loss(
    logits: Float[Tensor, "a b d_vocab"],
    freqs: Iterable[int],
    operation: str = "add",
    mask: Bool[Tensor, "a b"] | None = None,
    *,
    waves: str | None = None,
) -> float:
    """Loss of `excluded_logits` over `mask`, against the answers of `operation`; the
    paper measures it on the train pairs.

    The waves removed are those of `operation`, unless `waves` names the other one (see
    `restricted_loss`). Rises during grokking as the model comes to rely on the key
    frequencies, even while the train loss itself stays low.
    """
    return grid_loss(excluded_logits(logits, freqs, waves or operation), operation, mask)


def operand_embedding(model: torch.nn.Module, task) -> Float[Tensor, "p d"]:
    """How the model embeds the values 0..p-1: `W_E` rows for a transformer, the first
    operand's input weights for a `ModularMLP`."""
    net = core_module(model)
    weight = net.W_in if hasattr(net, "W_in") else net.tok_embed.weight
    return weight[: task.p].detach()


@torch.no_grad()
def logit_grid(model: torch.nn.Module, task, output: int = 0) -> Float[Tensor, "a b d_vocab"]:
    """The model's logits for answer `output` on all p² pairs of a modular task, as a grid.

    `task` is a modular task (`mod_add`, `mod_sub`, ...); output 1 of `mod_add_sub` is the
    difference. The logits are those at the position that predicts that answer.
    """
    if not 0 <= output < len(task.operations):
        raise ValueError(f"{task.name} has outputs 0..{len(task.operations) - 1}, got {output}")
    net = core_module(model)
    device = next(net.parameters()).device
    batch = task.split("all", device)
    was_training = net.training
    net.eval()
    logits = task.output_logits(net, batch.tokens)[:, output]
    net.train(was_training)
    return einops.rearrange(logits, "(a b) vocab -> a b vocab", a=task.p)


@torch.no_grad()
def progress_measures(
    model: torch.nn.Module,
    task,
    state_dicts: Iterable[Mapping[str, Tensor]],
    key_freqs: list[int] | None = None,
    output: int = 0,
) -> dict[str, list[float]]:
    """Train/test loss and accuracy, restricted loss (all pairs), excluded loss (train
    pairs) and the sum of squared weights, for each of a run's checkpoints.

    `state_dicts` are what `model.state_dict()` returns at each checkpoint; the model's
    own weights are restored afterwards. `key_freqs` default to the key frequencies of
    the last checkpoint's embedding. Returns one list per measure, plus "key_freqs".
    """
    states = list(state_dicts)
    if not states:
        raise ValueError("state_dicts is empty; pass at least one checkpoint")
    original = copy.deepcopy(model.state_dict())
    operation = task.operations[output]
    train = task.train_mask()
    try:
        if key_freqs is None:
            model.load_state_dict(states[-1])
            key_freqs = key_frequencies(operand_embedding(model, task))
        rows: dict[str, list[float]] = {}
        for state in states:
            model.load_state_dict(state)
            logits = logit_grid(model, task, output)
            correct = logits.argmax(-1).cpu() == answer_grid(task.p, operation)
            row = {
                "train_loss": grid_loss(logits, operation, train),
                "test_loss": grid_loss(logits, operation, ~train),
                "train_accuracy": correct[train].float().mean().item(),
                "test_accuracy": correct[~train].float().mean().item(),
                "restricted_loss": restricted_loss(logits, key_freqs, operation),
                "excluded_loss": excluded_loss(logits, key_freqs, operation, train),
                "sum_squared_weights": sum(
                    p.pow(2).sum().item() for p in core_module(model).parameters()
                ),
            }
            for name, value in row.items():
                rows.setdefault(name, []).append(value)
    finally:
        model.load_state_dict(original)
    return {**rows, "key_freqs": [float(k) for k in key_freqs]}
