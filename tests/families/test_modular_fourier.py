"""The Fourier toolkit over Z_p, on signals whose answer is known."""

import math

import pytest
import torch

import toyhelpers as th
from toyhelpers.families.modular import fourier as F
from toyhelpers.models import ModelConfig, make_transformer


def wave(p: int, k: int, kind: str = "cos", shift: float = 0.0) -> torch.Tensor:
    x = torch.arange(p, dtype=torch.float64)
    fn = torch.cos if kind == "cos" else torch.sin
    return fn(2 * math.pi * k * x / p + shift).float()


@pytest.mark.parametrize("p", [2, 3, 7, 8, 113])
def test_basis_is_orthonormal_and_named(p):
    basis = F.fourier_basis(p)
    assert basis.shape == (p, p)
    assert torch.allclose(basis @ basis.T, torch.eye(p), atol=1e-5)
    names = F.fourier_names(p)
    assert len(names) == p and names[:3] == ["const", "cos 1", "sin 1"][: min(p, 3)]
    assert F.component_frequency(p).max() == p // 2


def test_basis_rows_are_the_named_waves():
    basis, p = F.fourier_basis(13), 13
    assert torch.allclose(basis[0], torch.full((p,), p**-0.5))
    assert torch.allclose(basis[5], wave(p, 3, "cos") / wave(p, 3, "cos").norm(), atol=1e-6)
    assert torch.allclose(basis[6], wave(p, 3, "sin") / wave(p, 3, "sin").norm(), atol=1e-6)


@pytest.mark.parametrize("p, k", [(113, 1), (113, 14), (113, 56), (17, 5)])
def test_pure_wave_has_all_its_norm_on_its_frequency(p, k):
    for signal in (wave(p, k, "cos"), wave(p, k, "sin"), 3 * wave(p, k, "cos", shift=0.7) + 2):
        shares = F.frequency_fractions(signal)
        assert shares.shape == (p // 2 + 1,)
        assert shares[k] == pytest.approx(1.0, abs=1e-5)
        assert F.key_frequencies(signal) == [k]
    coeffs = F.to_fourier(wave(p, k, "cos"))
    assert F.fourier_names(p)[int(coeffs.abs().argmax())] == f"cos {k}"


def test_key_frequencies_of_an_embedding_like_matrix():
    p, gen = 113, torch.Generator().manual_seed(0)
    columns = [wave(p, 14, shift=s) for s in (0, 1, 2)] + [2 * wave(p, 41, shift=s) for s in (0, 1)]
    weights = torch.stack(columns, dim=1) + 0.01 * torch.randn(p, 5, generator=gen)
    assert F.key_frequencies(weights) == [41, 14]
    assert F.frequency_fractions(weights)[[14, 41]].sum() > 0.99
    with pytest.raises(ValueError, match="min_fraction"):
        F.key_frequencies(weights, min_fraction=0)


def test_to_fourier_2d_and_neuron_fractions():
    p = 11
    a, b = torch.arange(p)[:, None].double(), torch.arange(p)[None, :].double()
    w = 2 * math.pi / p
    acts = torch.stack(
        [
            torch.cos(w * 3 * (a + b)),  # frequency 3 alone
            torch.cos(w * 2 * a) + torch.sin(w * 2 * b),  # frequency 2, linear terms
            torch.cos(w * 1 * a) * torch.cos(w * 4 * b),  # mixes two frequencies
        ],
        dim=-1,
    ).float()
    coeffs = F.to_fourier_2d(acts)
    assert coeffs.shape == (p, p, 3)
    # orthonormal in both dims: the norm is kept
    assert torch.allclose(coeffs.pow(2).sum((0, 1)), acts.pow(2).sum((0, 1)), atol=1e-4)
    shares = F.neuron_frequency_fractions(acts)
    assert shares.shape == (3, p // 2 + 1)
    assert shares[0, 3] == pytest.approx(1.0, abs=1e-5)
    assert shares[1, 2] == pytest.approx(1.0, abs=1e-5)
    assert shares[2].sum() == pytest.approx(0.0, abs=1e-5)


def synthetic_logits(p: int, k: int, operation: str, scale: float = 100.0) -> torch.Tensor:
    """Logits scale * cos(w(a ∘ b - c)): the ideal key-frequency circuit for frequency k."""
    answer = F.answer_grid(p, operation).double()
    c = torch.arange(p).double()
    w = 2 * math.pi * k / p
    return (scale * torch.cos(w * (answer[:, :, None] - c))).float()


@pytest.mark.parametrize("operation", ["add", "sub"])
def test_restricted_and_excluded_loss_on_a_known_circuit(operation):
    p, k = 13, 4
    clean = synthetic_logits(p, k, operation)
    # Noise the restriction must remove: another frequency, and a wave in a alone.
    a = torch.arange(p).double()[:, None, None]
    c = torch.arange(p).double()
    noise = 0.5 * torch.cos(2 * math.pi * 2 * (a - c) / p) + torch.cos(2 * math.pi * 5 * a / p)
    logits = clean + noise.float().expand(p, p, p)

    assert torch.allclose(F.restricted_logits(clean, [k], operation), clean, atol=1e-4)
    assert torch.allclose(F.restricted_logits(logits, [k], operation), clean, atol=1e-4)
    assert torch.allclose(
        F.excluded_logits(clean, [k], operation), torch.zeros_like(clean), atol=1e-4
    )

    full = F.grid_loss(clean, operation)
    assert full < 0.01  # the circuit alone answers right
    assert F.restricted_loss(logits, [k], operation) == pytest.approx(full, abs=1e-4)
    # Removing the key frequency leaves nothing: uniform logits, loss log p.
    assert F.excluded_loss(clean, [k], operation) == pytest.approx(math.log(p), abs=1e-4)
    # Keeping the wrong frequency keeps nothing either; excluding it changes nothing.
    assert F.restricted_loss(clean, [1], operation) == pytest.approx(math.log(p), abs=1e-4)
    assert F.excluded_loss(clean, [1], operation) == pytest.approx(full, abs=1e-4)
    # A mask restricts the pairs scored.
    mask = torch.zeros(p, p, dtype=torch.bool)
    mask[0, 0] = True
    assert F.grid_loss(logits, operation, mask) == pytest.approx(
        torch.nn.functional.cross_entropy(logits[0, :1], F.answer_grid(p, operation)[0, :1]).item(),
        abs=1e-5,
    )


def test_addition_waves_do_not_carry_a_subtraction_circuit():
    """The waves kept or removed and the answers scored are separate choices: a
    subtraction circuit, scored against its own answers, loses nothing when the addition
    waves are removed and everything when only they are kept."""
    p, k = 13, 4
    clean = synthetic_logits(p, k, "sub")
    full = F.grid_loss(clean, "sub")
    assert F.restricted_loss(clean, [k], "sub") == pytest.approx(full, abs=1e-4)
    assert F.excluded_loss(clean, [k], "sub", waves="add") == pytest.approx(full, abs=1e-4)
    assert F.restricted_loss(clean, [k], "sub", waves="add") == pytest.approx(math.log(p), abs=1e-4)
    # Scored against the other operation's answers, even the untouched logits are wrong.
    assert F.grid_loss(clean, "add") > math.log(p)


def test_bad_arguments():
    with pytest.raises(ValueError, match="p must be an int >= 2"):
        F.fourier_basis(1)
    with pytest.raises(ValueError, match="operation must be 'add' or 'sub'"):
        F.answer_grid(7, "mul")
    with pytest.raises(ValueError, match=r"frequencies must be ints in 1..3"):
        F.wave_directions(7, [4])


def test_logit_grid_and_progress_measures_on_a_tiny_model():
    task = th.get_task("mod_add_sub", p=7)
    model = make_transformer(ModelConfig.for_task(task, n_layers=1, d_model=16, n_heads=2))
    grid = F.logit_grid(model, task, output=1)
    assert grid.shape == (7, 7, task.d_vocab)
    logits = model(task.split("all").tokens).detach()
    assert torch.allclose(grid[2, 5], logits[2 * 7 + 5, 3], atol=1e-5)

    before = {k: v.clone() for k, v in model.state_dict().items()}
    other = make_transformer(ModelConfig.for_task(task, n_layers=1, d_model=16, n_heads=2), seed=1)
    result = F.progress_measures(model, task, [before, other.state_dict()], output=1)
    for name in ("train_loss", "test_loss", "restricted_loss", "excluded_loss"):
        assert len(result[name]) == 2 and all(v > 0 for v in result[name])
    assert result["train_loss"][0] == pytest.approx(
        F.grid_loss(grid, "sub", task.train_mask()), abs=1e-5
    )
    assert result["sum_squared_weights"][0] != result["sum_squared_weights"][1]
    assert all(1 <= k <= 3 for k in result["key_freqs"])
    # the model's own weights are restored
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match="outputs 0..1"):
        F.logit_grid(model, task, output=2)
