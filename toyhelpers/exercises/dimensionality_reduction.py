"""Checks for 10_dimensionality_reduction: each compares the learner's function with a reference."""

from __future__ import annotations

import math

import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.checks import ExerciseFailed, assert_tensor, exercise

# -- references ------------------------------------------------------------------------


def _pca_by_svd(
    data: Float[Tensor, "point feature"], n_components: int
) -> tuple[Float[Tensor, "point component"], Float[Tensor, " component"]]:
    # Centre, then the right singular vectors are the principal directions; each component's
    # share of the variance is its squared singular value over the sum of all of them.
    centred = data - data.mean(0)
    _, sing, vh = torch.linalg.svd(centred, full_matrices=False)
    coords = centred @ vh[:n_components].T
    return coords, (sing.pow(2) / sing.pow(2).sum())[:n_components]


def _circularity(
    coords: Float[Tensor, "point 2"], labels: Int[Tensor, " point"], k: int, p: int
) -> float:
    # R² of a least-squares fit of the centred 2D points by [cos, sin] of frequency k.
    centred = (coords - coords.mean(0)).double()
    angle = 2 * math.pi * k * labels.double() / p
    waves = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    fit = waves @ torch.linalg.lstsq(waves, centred).solution
    return 1 - (centred - fit).pow(2).sum().item() / centred.pow(2).sum().clamp_min(1e-30).item()


def _fourier_plane(embed: Float[Tensor, "p d"], k: int) -> Float[Tensor, "p 2"]:
    # The cos and sin coefficient vectors of frequency k span a plane of d_model; the
    # embeddings, centred and written in an orthonormal basis of that plane.
    p = embed.shape[0]
    angle = 2 * math.pi * k * torch.arange(p, dtype=embed.dtype) / p
    plane = torch.stack([torch.cos(angle), torch.sin(angle)]) @ embed
    q, _ = torch.linalg.qr(plane.T)
    return (embed - embed.mean(0)) @ q


# -- fixed cases -------------------------------------------------------------------------


def _circle_case(p: int = 31, k: int = 4, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Points x -> (cos, sin)(2πkx/p) embedded in 6 dims, plus noise, and their labels."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.arange(p)
    angle = 2 * math.pi * k * x / p
    circle = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    lift = torch.linalg.qr(torch.randn(6, 2, generator=gen)).Q.T  # [2, 6]
    data = 3 * circle @ lift + 0.1 * torch.randn(p, 6, generator=gen) + 5
    return data, x, circle


def _match_signs(got: Tensor, want: Tensor) -> Tensor:
    """Flip each column of `got` to agree in sign with `want` (singular vectors have none)."""
    signs = torch.sign((got * want).sum(0))
    return got * torch.where(signs == 0, torch.ones_like(signs), signs)


# -- checks ----------------------------------------------------------------------------


@exercise("pca_by_svd")
def check_pca_by_svd(fn) -> None:
    """fn(data, n_components) -> (coords [point, component], variance shares [component])."""
    gen = torch.Generator().manual_seed(2)
    data_circle, _, _ = _circle_case()
    cases = [(data_circle, 2), (torch.randn(40, 7, generator=gen) * torch.arange(1, 8), 3)]
    for data, n in cases:
        got = fn(data, n)
        if not isinstance(got, tuple) or len(got) != 2:
            raise ExerciseFailed("return a pair: (coords, share of variance of each component)")
        coords, shares = got
        want_coords, want_shares = _pca_by_svd(data, n)
        if isinstance(coords, Tensor) and coords.shape == want_coords.shape:
            _, _, vh = torch.linalg.svd(data, full_matrices=False)
            uncentred = data @ vh[:n].T
            if torch.allclose(_match_signs(coords, uncentred), uncentred, atol=1e-3):
                raise ExerciseFailed(
                    "subtract the mean of each feature before the SVD: the first direction "
                    "of uncentred data points at the mean, not along the spread"
                )
            coords = _match_signs(coords, want_coords)
        if isinstance(shares, Tensor) and shares.shape == want_shares.shape:
            _, sing, _ = torch.linalg.svd(data - data.mean(0), full_matrices=False)
            if torch.allclose(shares, (sing / sing.sum())[:n], atol=1e-4):
                raise ExerciseFailed(
                    "variance goes with the squared singular values: share_i = s_i² / Σ s_j²"
                )
        assert_tensor(
            coords, want_coords, "coords (up to the sign of each column)", dims="point component"
        )
        assert_tensor(shares, want_shares, "variance shares", dims="component")


@exercise("circularity")
def check_circularity(fn) -> None:
    """fn(coords, labels, k, p) -> R² of fitting the 2D points with cos/sin(2πk·label/p)."""
    p, k = 31, 4
    _, x, circle = _circle_case(p, k)
    gen = torch.Generator().manual_seed(3)
    noisy = 2 * circle + 0.6 * torch.randn(p, 2, generator=gen) + 7
    cases = [
        (noisy, x, k, "a noisy circle of frequency 4, off-centre"),
        (noisy, x, 5, "the same circle scored at the wrong frequency 5"),
        (torch.randn(p, 2, generator=gen), x, k, "random points"),
        (circle[torch.randperm(p, generator=gen)], x, k, "a perfect circle in scrambled order"),
    ]
    for coords, labels, freq, what in cases:
        got = fn(coords, labels, freq, p)
        want = _circularity(coords, labels, freq, p)
        try:
            value = float(got)
        except (TypeError, ValueError):
            raise ExerciseFailed(f"return a number (a float), got {type(got).__name__}") from None
        if abs(value - want) > 1e-3:
            hint = ""
            no_centre = coords.double()
            angle = 2 * math.pi * freq * labels.double() / p
            waves = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
            fit = waves @ torch.linalg.lstsq(waves, no_centre).solution
            raw = 1 - (no_centre - fit).pow(2).sum().item() / no_centre.pow(2).sum().item()
            if abs(value - raw) < 1e-3:
                hint = (
                    ": centre the points first (subtract their mean); the waves have mean "
                    "zero and cannot fit an offset"
                )
            raise ExerciseFailed(f"for {what}: got R² = {value:.4f}, expected {want:.4f}{hint}")


@exercise("fourier_plane")
def check_fourier_plane(fn) -> None:
    """fn(embed, k) -> [p, 2]: centred embeddings in an orthonormal basis of frequency k's plane."""
    data, _, _ = _circle_case()
    gen = torch.Generator().manual_seed(4)
    for embed, k in ((data, 4), (torch.randn(23, 5, generator=gen), 3)):
        got = fn(embed, k)
        want = _fourier_plane(embed, k)
        if not isinstance(got, Tensor) or got.shape != want.shape:
            assert_tensor(got, want, f"fourier_plane(embed, {k})", dims="x coord")
        # Any orthonormal basis of the plane is right: compare Gram matrices (rotation-free).
        if torch.allclose(got @ got.T, want @ want.T, atol=1e-3 * (want @ want.T).abs().max()):
            continue
        p = embed.shape[0]
        angle = 2 * math.pi * k * torch.arange(p, dtype=embed.dtype) / p
        plane = torch.stack([torch.cos(angle), torch.sin(angle)]) @ embed
        q, _ = torch.linalg.qr(plane.T)
        if torch.allclose(got, embed @ q, atol=1e-3) or torch.allclose(
            got @ got.T, (embed @ q) @ (embed @ q).T, atol=1e-3
        ):
            raise ExerciseFailed("centre the embeddings (subtract their mean) before projecting")
        if torch.allclose(got, (embed - embed.mean(0)) @ plane.T, atol=1e-3):
            raise ExerciseFailed(
                "you projected on cos_k @ embed and sin_k @ embed as they are; orthonormalise "
                "them first (torch.linalg.qr of the [d, 2] matrix), or distances get distorted"
            )
        raise ExerciseFailed(
            "the points differ from the projection onto the plane spanned by cos_k @ embed "
            "and sin_k @ embed, with cos_k, sin_k the waves cos/sin(2πkx/p) over x = 0..p-1"
        )
