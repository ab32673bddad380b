"""The arithmetic family's multiplication (lesson 13): the `mul` format, its mix of hard
cases, its metrics, and the checks of lesson 13."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.families.arithmetic import checks
from toyhelpers.families.arithmetic.tasks import (
    MUL_MIXES,
    Multiplication,
    column_sums,
    mul_digits,
    readout_error,
    running_sums,
)


def read_products(task, tokens):
    """(a, b, answer) per row as Python ints, read from the token strings alone."""
    n = task.n_digits
    order = (lambda w: w[::-1]) if task.reverse else (lambda w: w)
    rows = []
    for row in tokens.tolist():
        words = [task.vocab[t] for t in row]
        assert words[0] == "START" and words[n + 1] == "*" and words[2 * n + 2] == "="
        a = int("".join(order(words[1 : n + 1])))
        b = int("".join(order(words[n + 2 : 2 * n + 2])))
        answer = "".join(order(words[2 * n + 3 :]))
        assert len(answer) == 2 * n
        rows.append((a, b, int(answer)))
    return rows


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 7),
    reverse=st.booleans(),
    mix=st.sampled_from(MUL_MIXES),
    seed=st.integers(0, 2**31),
)
def test_products_and_layout(n, reverse, mix, seed):
    task = Multiplication(n, reverse, mix)
    batch = task.generate(64, seed=seed)
    assert batch.tokens.shape == (64, 4 * n + 3) == (64, task.seq_len)
    assert batch.scored[:, 2 * n + 3 :].all() and not batch.scored[:, : 2 * n + 3].any()
    for a, b, answer in read_products(task, batch.tokens):
        assert 0 <= a < 10**n and 0 <= b < 10**n and answer == a * b


def test_contract_examples():
    """The format of CURRICULUM.md, token for token."""
    mul, rev = Multiplication(), Multiplication(reverse=True)
    assert mul.config() == {
        "n_digits": 3,
        "reverse": False,
        "mix": "train",
        "running_sum_loss": 0.0,
    }
    assert th.get_task("mul").n_digits == 3 and mul.vocab[12] == "*"
    text = "START 9 9 9 * 9 9 9 = 9 9 8 0 0 1"
    assert torch.equal(mul.example(999, 999), mul.encode(text))
    assert torch.equal(rev.example(999, 999), rev.encode("START 9 9 9 * 9 9 9 = 1 0 0 8 9 9"))
    assert mul.decode(mul.example(12, 5)) == "START 0 1 2 * 0 0 5 = 0 0 0 0 6 0"
    assert rev.decode(rev.example(12, 5)) == "START 2 1 0 * 5 0 0 = 0 6 0 0 0 0"
    tokens = mul.encode(text)[None]
    # 999 * 999: columns 81 162 243 162 81, carries into c_0..c_5 0 8 17 26 18 9.
    assert column_sums(*mul.operands(tokens)).tolist() == [[81, 162, 243, 162, 81]]
    assert mul.carries(tokens).tolist() == [[0, 8, 17, 26, 18, 9]]
    assert mul.product_digits(tokens).tolist() == [[1, 0, 0, 8, 9, 9]]


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="operand a has 4 digit"):
        Multiplication().encode("START 1 2 3 4 * 1 2 3 = 0 0 0 0 0 0")
    with pytest.raises(ValueError, match="operand b has 2 digit"):
        Multiplication().encode("START 1 2 3 * 1 2 =")
    with pytest.raises(ValueError, match="takes ints in 0..999"):
        Multiplication().example(1000, 3)
    with pytest.raises(ValueError, match="n_digits"):
        th.get_task("mul", n_digits=13)
    with pytest.raises(ValueError, match="mix"):
        th.get_task("mul", mix="cascade")
    with pytest.raises(ValueError, match="its settings are: n_digits, reverse, mix"):
        th.get_task("mul", digits=3)


def test_mix_oversamples_the_hard_cases():
    task = Multiplication()
    batch = task.generate(20_000, seed=0)
    a, b = task.operands(batch.tokens)
    carries = task.carries(batch.tokens)
    answer = task.product_digits(batch.tokens)
    uniform, hard = slice(0, None, 2), slice(1, None, 2)
    # Large carries into the middle digit: 2% of uniform rows, 24% of hard ones.
    big = carries[:, 3] >= 15
    assert big[uniform].float().mean() < 0.04 and big[hard].float().mean() > 0.15
    # Zeros inside the answer, leading zeros, operands of all nines.
    leading = (answer[:, -1] == 0) & (answer[:, -2] == 0)
    assert leading[hard].float().mean() > 2 * leading[uniform].float().mean()
    assert (a == 9).all(1)[hard].float().mean() > 0.1
    assert ((a == 0).all(1) | (b == 0).all(1))[hard].float().mean() > 0.05
    assert not (a == 9).all(1)[uniform].float().mean() > 0.01


def test_mul_digits_matches_python():
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randint(0, 10, (500, 6), generator=gen) for _ in range(2))
    digits, _ = mul_digits(a, b)
    for x, y, d in zip(a.tolist(), b.tolist(), digits.tolist(), strict=True):
        value = lambda ds: sum(v * 10**i for i, v in enumerate(ds))  # noqa: E731
        assert value(x) * value(y) == value(d)


def test_metrics_split_rows_and_digits():
    task = Multiplication()
    batch = task.generate(400, seed=3)
    perfect = torch.nn.functional.one_hot(batch.tokens.roll(-1, dims=1), task.d_vocab) * 10.0
    metrics = task.metrics(perfect, batch)
    assert metrics["accuracy"] == metrics["accuracy_uniform"] == metrics["accuracy_hard"] == 1
    broken = perfect.clone()
    broken[1::2, task.answer_query(0)] = broken[1::2, task.answer_query(0)].roll(1, dims=-1)
    metrics = task.metrics(broken, batch)
    assert metrics["accuracy_uniform"] == 1.0 and metrics["accuracy_hard"] == 0.0
    assert metrics["accuracy_c0"] == 0.5 and metrics["accuracy_c5"] == 1.0
    assert "accuracy_uniform" in Multiplication(mix="uniform").metrics(perfect, batch)


def test_answer_query_predicts_the_digit():
    for reverse in (False, True):
        task = Multiplication(reverse=reverse)
        tokens = task.example(123, 456)
        digits = [int(c) for c in str(123 * 456).zfill(6)[::-1]]
        assert [tokens[task.answer_query(k) + 1].item() for k in range(6)] == digits
        a_keys, b_keys, queries = checks._mul_positions(3, reverse)
        assert a_keys == task.operand_positions(0) and b_keys == task.operand_positions(1)
        assert queries == [task.answer_query(k) for k in range(6)]


def test_training_loss_is_the_scored_loss():
    # Without the running-sum loss (the recipe has it on), training optimises what is scored.
    run = th.get_recipe("mul").build(fast=True, task_settings=dict(running_sum_loss=0.0))
    batch = run.task.generate(16, seed=0)
    net = th.models.core_module(run.model)
    with torch.no_grad():
        full = th.tasks.sequence_metrics(net(batch.tokens), batch)["loss"]
        assert abs(run.task.training_loss(net, batch).item() - full) < 1e-5


def test_running_sums_give_each_digit_and_the_next_carry():
    gen = torch.Generator().manual_seed(1)
    a, b = (torch.randint(0, 10, (300, 4), generator=gen) for _ in range(2))
    digits, carries = mul_digits(a, b)
    running = running_sums(a, b)
    assert torch.equal(running % 10, digits)
    assert torch.equal(running[:, :-1] // 10, carries[:, 1:])
    # 999 * 999: columns 81, 162, 243, 162, 81 plus carries 0, 8, 17, 26, 18; top carry 9.
    nines = torch.full((1, 3), 9)
    assert running_sums(nines, nines).tolist() == [[81, 170, 260, 188, 99, 9]]


def test_readout_error_is_zero_for_a_linear_target_and_near_one_for_noise():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2_000, 8, generator=gen, dtype=torch.float64)
    target = x @ torch.arange(1.0, 9.0, dtype=torch.float64) + 5.0  # a bias too
    assert readout_error(x, target).item() < 1e-4
    assert readout_error(x * 1_000, target).item() < 1e-4  # no dependence on the scale
    noise = torch.randn(2_000, 8, generator=gen, dtype=torch.float64)
    assert 0.95 < readout_error(noise, target).item() < 1.1
    # Held out: 200 random features fit 100 rows exactly, yet predict the rest poorly.
    wide = torch.randn(200, 200, generator=gen, dtype=torch.float64)
    assert readout_error(wide, torch.randn(200, generator=gen, dtype=torch.float64)) > 0.5
    with pytest.raises(ValueError, match="one target per row"):
        readout_error(x, target[:-1])


def test_readout_error_with_groups_ignores_what_differs_between_groups():
    gen = torch.Generator().manual_seed(3)
    rows, groups = 1_000, 4
    offsets = torch.tensor([0.0, 50.0, 100.0, 150.0], dtype=torch.float64)
    # Features that know the group and nothing else; the target varies within each group.
    group_only = torch.eye(groups, dtype=torch.float64).expand(rows, groups, groups)
    noisy = offsets + torch.randn(rows, groups, generator=gen, dtype=torch.float64)
    pooled = readout_error(group_only.reshape(-1, groups), noisy.reshape(-1))
    assert pooled < 0.01  # pooled, the group offsets look like a good readout...
    assert readout_error(group_only, noisy) > 0.95  # ...within groups it reads nothing
    x = torch.randn(rows, groups, 6, generator=gen, dtype=torch.float64)
    linear = offsets + x @ torch.arange(1.0, 7.0, dtype=torch.float64)
    assert readout_error(x, linear) < 1e-4


def test_running_sum_loss_adds_a_differentiable_readout_term():
    run = th.get_recipe("mul").build(fast=True, task_settings=dict(running_sum_loss=0.0))
    net = th.models.core_module(run.model)
    batch = run.task.generate(64, seed=0)
    plain = run.task.training_loss(net, batch)
    weighted = Multiplication(n_digits=3, reverse=True, running_sum_loss=2.0)
    total = weighted.training_loss(net, batch)
    a, b = run.task.operands(batch.tokens)
    _, resid = th.models.tail_logits_and_residual(net, batch.tokens, run.task.n_answer + 1)
    queries = [run.task.answer_query(k) for k in range(6)]
    readout = readout_error(resid[:, queries], running_sums(a, b).float())
    torch.testing.assert_close(total, plain + 2.0 * readout)
    total.backward()
    assert net.layers[0].attn.q.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="running_sum_loss"):
        Multiplication(running_sum_loss=-1.0)


def test_tail_residual_is_the_last_blocks_resid_pre():
    run = th.get_recipe("mul").build(fast=True)
    tokens = run.task.generate(8, seed=0).tokens
    _, cache = run.model.run_with_cache(tokens)
    last = run.model.cfg.n_layers - 1
    _, resid = th.models.tail_logits_and_residual(th.models.core_module(run.model), tokens, 3)
    torch.testing.assert_close(resid, cache[f"blocks.{last}.hook_resid_pre"])


# -- the checks ----------------------------------------------------------------------------


def _carry_without_incoming(a, b):
    sums = column_sums(a, b)
    return torch.cat([torch.zeros_like(sums[:, :1]), sums // 10], dim=1)


def _written_order(logits, tokens, n_digits, reverse):
    return checks._digit_accuracy(logits, tokens, n_digits, reverse).flip(0)


def _summed_pairs(pattern, n_digits, reverse):
    a_keys, b_keys, queries = checks._mul_positions(n_digits, reverse)
    rows = pattern[:, :, queries]
    return (rows[..., a_keys, None] + rows[..., None, b_keys]).mean(0)


def _swapped_knockout(query, keys):
    def hook(pattern, hook):
        pattern = pattern.clone()
        pattern[:, :, keys, query] = 0.0
        return pattern

    return hook


def _r2_on_fitted_rows(features, target):
    """Scored on the rows it was fitted on: it flatters a probe with many features."""
    return checks._probe_scores(features, target)[1]


MISTAKES = {
    "check_column_carries": (_carry_without_incoming, "carried only the column's own tens"),
    "check_digit_accuracy": (_written_order, "written order"),
    "check_pair_gather": (_summed_pairs, "multiply them"),
    "check_knockout_hook": (_swapped_knockout, "the query is the third axis"),
    "check_probe_r2": (_r2_on_fitted_rows, "the rows the probe was fitted on"),
}


def test_probe_r2_check_accepts_other_correct_probes_and_explains_a_missing_bias(capsys):
    from sklearn.linear_model import LinearRegression

    def with_sklearn(features, target):
        x, y = np.asarray(features), np.asarray(target)
        half = len(y) // 2
        return LinearRegression().fit(x[:half], y[:half]).score(x[half:], y[half:])

    def centred_pinv(features, target):
        # Bias from the fitted half's means, the mean of the same half for the variance.
        x, y = features.float(), torch.as_tensor(target).float()
        half = len(y) // 2
        x_mean, y_mean = x[:half].mean(0), y[:half].mean()
        weights = torch.linalg.pinv(x[:half] - x_mean) @ (y[:half] - y_mean)
        guess = (x[half:] - x_mean) @ weights + y_mean
        return 1 - (y[half:] - guess).pow(2).sum() / (y[half:] - y_mean).pow(2).sum()

    def no_bias(features, target):
        x, y = np.asarray(features), np.asarray(target)
        half = len(y) // 2
        fit = LinearRegression(fit_intercept=False).fit(x[:half], y[:half])
        return fit.score(x[half:], y[half:])

    checks.check_probe_r2(with_sklearn)
    checks.check_probe_r2(centred_pinv)
    assert capsys.readouterr().out.count("check passed: probe_r2") == 2
    with pytest.raises(checks.ExerciseFailed, match="Did you fit a bias"):
        checks.check_probe_r2(no_bias)
