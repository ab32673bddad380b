"""The modular family: its tasks (format, the train/test split, training on it) and the
checks of lessons 06-11."""

import math

import pytest
import torch

import toyhelpers as th
from toyhelpers.checks import ExerciseFailed
from toyhelpers.families.modular import checks
from toyhelpers.families.modular.fourier import component_frequency, to_fourier_2d
from toyhelpers.models import ModelConfig, make_transformer
from toyhelpers.training import TrainConfig, _Data, train

NAMES = ("mod_add", "mod_sub", "mod_add_sub")


def pairs(batch) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in batch.tokens[:, :2].tolist()}


@pytest.mark.parametrize("name", NAMES)
def test_defaults(name):
    task = th.get_task(name)
    assert task.config() == {"p": 113, "train_fraction": 0.3, "split_seed": 0}
    assert task.vocab[:3] == ["0", "1", "2"] and task.vocab[-1] == "=" and task.d_vocab == 114


@pytest.mark.parametrize(
    "name, answers",
    [
        ("mod_add", lambda a, b: [(a + b) % 7]),
        ("mod_sub", lambda a, b: [(a - b) % 7]),
        ("mod_add_sub", lambda a, b: [(a + b) % 7, (a - b) % 7]),
    ],
)
def test_format(name, answers):
    task = th.get_task(name, p=7)
    batch = task.split("all")
    assert batch.tokens.shape == (49, task.seq_len) == (49, 3 + len(answers(0, 0)))
    for (a, b, eq, *rest), row in zip(batch.tokens.tolist(), batch.scored.tolist(), strict=True):
        assert eq == task.token_id("=") == 7
        assert rest == answers(a, b)
        assert row == [False] * 3 + [True] * len(rest)
    # every pair once, in the order a*p + b
    assert batch.tokens[:, 0].tolist() == [i // 7 for i in range(49)]
    assert batch.tokens[:, 1].tolist() == [i % 7 for i in range(49)]


def test_example_strings():
    assert th.get_task("mod_add", p=7).decode(th.get_task("mod_add", p=7).encode("3 5 = 1")) == (
        "3 5 = 1"
    )
    task = th.get_task("mod_add_sub", p=7)
    assert task.answers(torch.tensor([3]), torch.tensor([5])).tolist() == [[1, 5]]


@pytest.mark.parametrize("p, fraction", [(7, 0.3), (113, 0.3), (11, 0.5), (13, 0.9)])
def test_split_sizes_and_disjointness(p, fraction):
    task = th.get_task("mod_sub", p=p, train_fraction=fraction)
    train_set, test_set = task.split("train"), task.split("test")
    assert len(train_set) == round(fraction * p * p) == task.train_mask().sum()
    assert len(train_set) + len(test_set) == p * p
    assert pairs(train_set).isdisjoint(pairs(test_set))
    assert len(pairs(train_set) | pairs(test_set)) == p * p
    mask = task.train_mask()
    assert all(mask[a, b] for a, b in pairs(train_set))


def test_split_is_deterministic_and_follows_split_seed():
    a, b = th.get_task("mod_add", p=11), th.get_task("mod_add", p=11)
    assert torch.equal(a.split("train").tokens, b.split("train").tokens)
    c = th.get_task("mod_add", p=11, split_seed=1)
    assert pairs(a.split("train")) != pairs(c.split("train"))
    # every task with the same p and split_seed holds out the same pairs
    assert pairs(th.get_task("mod_add_sub", p=11).split("test")) == pairs(a.split("test"))


def test_generate_draws_only_test_pairs_and_sample_only_train_pairs():
    task = th.get_task("mod_add_sub", p=7)
    test_pairs, train_pairs = pairs(task.split("test")), pairs(task.split("train"))
    batch = task.generate(500, seed=3)
    assert pairs(batch) <= test_pairs
    assert len(pairs(batch)) > len(test_pairs) // 2  # really draws across the test set
    assert torch.equal(batch.tokens, task.generate(500, seed=3).tokens)
    assert not torch.equal(batch.tokens, task.generate(500, seed=4).tokens)
    assert pairs(task.sample(500, torch.Generator().manual_seed(0))) <= train_pairs


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"p": 9}, "p must be a prime"),
        ({"p": 2, "train_fraction": 0.1}, "gives 0 training pairs"),
        ({"p": 2, "train_fraction": 0.9}, "both the train and the test split"),
    ],
)
@pytest.mark.parametrize("name", ["mod_add", "mod_add_sub"])
def test_bad_settings_say_what_is_allowed(name, settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task(name, **settings)


def test_bad_split_name():
    with pytest.raises(ValueError, match="split name must be 'train', 'test' or 'all'"):
        th.get_task("mod_add", p=7).split("valid")


def test_add_sub_metrics_score_each_output():
    task = th.get_task("mod_add_sub", p=5)
    batch = task.split("all")
    logits = torch.nn.functional.one_hot(batch.tokens.roll(-1, dims=1), task.d_vocab).float()
    logits[:, 3] = 0.0  # no preference for the difference: argmax is token 0
    got = task.metrics(logits, batch)
    assert got["add_accuracy"] == 1.0
    assert got["sub_accuracy"] == pytest.approx(5 / 25)
    assert got["accuracy"] == pytest.approx(5 / 25)


def test_training_uses_the_whole_train_split():
    task = th.get_task("mod_add", p=7)
    config = TrainConfig(steps=5, batch_size=1_000, train_size=3, eval_every=5, warmup_steps=1)
    data = _Data(task, config, torch.device("cpu"))
    want = task.split("train")
    assert torch.equal(data.fixed.tokens, want.tokens)  # train_size is ignored
    assert data.next() is data.fixed  # full batch
    model = make_transformer(ModelConfig.for_task(task, n_layers=1, d_model=16, n_heads=2))
    result = train(model, task, config, progress=False)
    assert result.steps == 5 and "accuracy" in result.metrics


def test_minibatches_come_from_the_train_split():
    task = th.get_task("mod_add_sub", p=7)
    data = _Data(task, TrainConfig(batch_size=8), torch.device("cpu"))
    assert pairs(data.next()) <= pairs(task.split("train"))


# -- the checks: one explained mistake each (tests/contracts/test_checks.py), and more ----


def _input_fractions_with_constant(W_in, p):
    rows = []
    for half in (W_in[:p], W_in[p:]):
        power = checks._power_by_frequency(half).sum(-1)
        rows.append(power / power.sum())
    return torch.stack(rows).float()


def _neuron_frequencies_from_a_only(W_in, p):
    return checks._neuron_frequencies(torch.cat([W_in[:p], torch.zeros_like(W_in[:p])]), p)


def _wave_coefficients_other_operation(coeffs, k, operation):
    return checks._wave_coefficients(coeffs, k, "add" if operation == "sub" else "sub")


def _first_step_as_index(history, metric, threshold):
    return next((i for i, v in enumerate(history[metric]) if v >= threshold), None)


def _participation_unnormalised(shares):
    return shares.pow(2).sum(-1)


def _sparsity_signed(acts, eps):
    near = acts <= eps
    flat = near.reshape(-1, acts.shape[-1])
    return flat.all(0).float().mean().item(), near.float().mean().item()


def _ablate_over_positions(z, head):
    out = z.clone()
    out[:, :, head] = z[:, :, head].mean((0, 1), keepdim=True)
    return out


def _shares(acts, include_constant=False, linear=True):
    power = to_fourier_2d(acts).pow(2)
    comp = component_frequency(acts.shape[0])
    fa, fb = comp[:, None], comp[None, :]
    total = power.sum((0, 1)) - (0 if include_constant else power[0, 0])
    out = torch.zeros(acts.shape[-1], acts.shape[0] // 2 + 1)
    for k in range(1, acts.shape[0] // 2 + 1):
        terms = (fa == k) & (fb == k)
        if linear:
            terms = terms | ((fa == k) & (fb == 0)) | ((fa == 0) & (fb == k))
        out[:, k] = power[terms].sum(0) / total
    return out


def _best_frequency_with_constant(acts):
    best = _shares(acts, include_constant=True).max(-1)
    return best.indices, best.values


def _pca_uncentred(data, n):
    _, sing, vh = torch.linalg.svd(data, full_matrices=False)
    return data @ vh[:n].T, (sing.pow(2) / sing.pow(2).sum())[:n]


def _circularity_uncentred(coords, labels, k, p):
    angle = 2 * math.pi * k * labels.double() / p
    waves = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    y = coords.double()
    fit = waves @ torch.linalg.lstsq(waves, y).solution
    return 1 - (y - fit).pow(2).sum().item() / y.pow(2).sum().item()


def _plane_not_orthonormal(embed, k):
    p = embed.shape[0]
    angle = 2 * math.pi * k * torch.arange(p, dtype=embed.dtype) / p
    plane = torch.stack([torch.cos(angle), torch.sin(angle)]) @ embed
    return (embed - embed.mean(0)) @ plane.T


def _difference_read_at_equals(model, tokens, s_values):
    prompt = torch.cat([tokens[:, :3], s_values[:, None]], dim=1)
    with torch.no_grad():
        pred = model(prompt)[:, 2].argmax(-1)
    return (pred == (tokens[:, 0] - tokens[:, 1]) % model.task.p).float().mean().item()


MISTAKES = {
    # 06 mod_add_mlp
    "check_input_frequency_fractions": (_input_fractions_with_constant, "constant"),
    "check_neuron_frequencies": (_neuron_frequencies_from_a_only, "only operand a"),
    "check_frequencies_covering": (
        lambda s, t: checks._frequencies_covering(s, t)[:-1],
        "one frequency short",
    ),
    # 07 mod_sub_transformer
    "check_wave_coefficients": (
        _wave_coefficients_other_operation,
        "'add' waves for operation 'sub'",
    ),
    "check_wave_share": (
        lambda logits, freqs, operation: (
            torch.einsum(
                "dab,abv->dv", checks.wave_directions(logits.shape[0], freqs, operation), logits
            )
            .pow(2)
            .sum()
            / logits.pow(2).sum()
        ).item(),
        "mean over the grid",
    ),
    "check_first_step_reaching": (_first_step_as_index, "index"),
    # 08 gelu_vs_relu
    "check_participation_ratio": (_participation_unnormalised, "one frequency must score 1"),
    "check_neuron_sparsity": (_sparsity_signed, "negative"),
    # 09 weights_and_neurons
    "check_mean_ablate_head": (_ablate_over_positions, "batch only"),
    "check_best_frequency": (_best_frequency_with_constant, "constant term"),
    # 10 dimensionality_reduction
    "check_pca_by_svd": (_pca_uncentred, "subtract the mean"),
    "check_circularity": (_circularity_uncentred, "centre the points"),
    "check_fourier_plane": (_plane_not_orthonormal, "orthonormalise"),
    # 11 multitask
    "check_logit_frequency_shares": (
        lambda logits, op: checks._logit_frequency_shares(logits, "sub" if op == "add" else "add"),
        "other operation",
    ),
    "check_sum_diff_shares": (lambda acts: checks._sum_diff_shares(acts).flip(-1), "swapped"),
    "check_difference_accuracy": (_difference_read_at_equals, "position"),
}


def test_planted_waves_are_found_by_the_references():
    W_in = checks._planted_weights(31, 40, [4, 11], seed=0)
    fractions = checks._input_frequency_fractions(W_in, 31)
    assert fractions[:, [4, 11]].sum(-1).min() > 0.5
    freq, share = checks._neuron_frequencies(W_in, 31)
    assert set(freq.tolist()) == {4, 11} and share.min() > 0.3


def test_wave_share_separates_sub_from_add():
    logits = checks._grid(13, [2, 5], "sub", seed=3)
    assert checks._wave_share(logits, [2, 5], "sub") > 0.5
    assert checks._wave_share(logits, [2, 5], "add") < 0.05


@pytest.mark.parametrize(
    "check, wrong, message",
    [
        (
            "check_input_frequency_fractions",
            lambda W, p: (lambda b: b / b.sum())(checks._input_frequency_fractions(W, p)),
            "each row should sum to 1",
        ),
        (
            "check_input_frequency_fractions",
            lambda W, p: checks._input_frequency_fractions(W, p).flip(0),
            "rows swapped",
        ),
        (
            "check_frequencies_covering",
            lambda s, t: [0] + checks._frequencies_covering(s, t),
            "constant",
        ),
        (
            "check_wave_coefficients",
            lambda c, k, op: checks._wave_coefficients(c, k, op) * math.sqrt(2),
            "√2",
        ),
        ("check_participation_ratio", lambda s: 1 / s.pow(2).sum(-1), "own total"),
        (
            "check_participation_ratio",
            lambda s: s.sum(0).pow(2) / s.pow(2).sum(0),
            "last dim",
        ),
        (
            "check_pca_by_svd",
            lambda data, n: (
                checks._pca_by_svd(data, n)[0],
                (lambda s: (s / s.sum())[:n])(
                    torch.linalg.svd(data - data.mean(0), full_matrices=False)[1]
                ),
            ),
            "squared singular values",
        ),
    ],
)
def test_more_mistakes_are_explained(check, wrong, message):
    with pytest.raises(ExerciseFailed, match=message):
        getattr(checks, check)(wrong)


def test_mean_ablation_mistakes_are_explained():
    def zeroed(z, head):
        out = z.clone()
        out[:, :, head] = 0
        return out

    def in_place(z, head):
        z[:, :, head] = z[:, :, head].mean(0, keepdim=True)
        return z

    def every_head(z, head):
        return z.mean(0, keepdim=True).expand_as(z).clone()

    for wrong, message in ((zeroed, "zero-ablation"), (in_place, "in place")):
        with pytest.raises(ExerciseFailed, match=message):
            checks.check_mean_ablate_head(wrong)
    with pytest.raises(ExerciseFailed, match="other heads"):
        checks.check_mean_ablate_head(every_head)


def test_best_frequency_with_products_only_is_explained():
    def products_only(acts):
        # the right best frequency, but only the product terms counted in its share
        k = _shares(acts).argmax(-1)
        return k, _shares(acts, linear=False).gather(-1, k[:, None])[:, 0]

    with pytest.raises(ExerciseFailed, match="alone"):
        checks.check_best_frequency(products_only)


def test_answers_that_differ_only_harmlessly_pass(capsys):
    def flipped(data, n):
        coords, shares = checks._pca_by_svd(data, n)
        return -coords, shares

    def rotated(embed, k):
        c, s = math.cos(0.7), math.sin(0.7)
        return checks._fourier_plane(embed, k) @ torch.tensor([[c, -s], [s, c]])

    checks.check_pca_by_svd(flipped)  # a principal axis has no sign
    checks.check_fourier_plane(rotated)  # any orthonormal basis of the plane is fine
    assert capsys.readouterr().out.count("check passed") == 2
