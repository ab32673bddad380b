"""The arithmetic family: add5 and sub5, their mix of hard cases, and the checks of lesson 12."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.families.arithmetic import checks
from toyhelpers.families.arithmetic.tasks import CASCADE, MIXES, Addition, Subtraction
from toyhelpers.tasks import sequence_metrics


def read_numbers(task, tokens):
    """(a, operator, b, answer words) per row, read from the token strings alone."""
    n = task.n_digits
    order = (lambda w: w[::-1]) if task.reverse else (lambda w: w)
    rows = []
    for row in tokens.tolist():
        words = [task.vocab[t] for t in row]
        assert words[0] == "START" and words[2 * n + 2] == "="
        a = int("".join(order(words[1 : n + 1])))
        b = int("".join(order(words[n + 2 : 2 * n + 2])))
        rows.append((a, words[n + 1], b, words[2 * n + 3 :]))
    return rows


def python_chains(x, y, n, kind):
    """Longest carry (borrow) chain: a generating digit and the propagating digits after it."""
    if kind == "sub":
        x, y = max(x, y), min(x, y)
    best = run = 0
    for i in range(n):
        dx, dy = x // 10**i % 10, y // 10**i % 10
        generate = dx + dy >= 10 if kind == "add" else dx < dy
        propagate = dx + dy == 9 if kind == "add" else dx == dy
        run = 1 if generate else (run + 1 if propagate and run else 0)
        best = max(best, run)
    return best


def fits(cls, n, mix):
    longest = n if cls is Addition else n - 1
    return mix in ("train", "uniform") or longest >= CASCADE


@settings(max_examples=40, deadline=None)
@given(
    cls=st.sampled_from([Addition, Subtraction]),
    n=st.integers(1, 9),
    reverse=st.booleans(),
    mix=st.sampled_from(MIXES),
    seed=st.integers(0, 2**31),
)
def test_answers_layout_and_chains(cls, n, reverse, mix, seed):
    if not fits(cls, n, mix):
        with pytest.raises(ValueError, match="mix="):
            cls(n, reverse, mix)
        return
    task = cls(n, reverse, mix)
    batch = task.generate(64, seed=seed)
    assert batch.tokens.shape == (64, 3 * n + 4) == (64, task.seq_len)
    assert batch.scored[:, 2 * n + 3 :].all() and not batch.scored[:, : 2 * n + 3].any()
    order = (lambda w: w[::-1]) if reverse else (lambda w: w)
    chains = task.chain_lengths(batch.tokens).tolist()
    for (a, op, b, answer), chain in zip(read_numbers(task, batch.tokens), chains, strict=True):
        assert 0 <= a < 10**n and 0 <= b < 10**n
        if cls is Addition:
            assert op == "+" and "".join(order(answer)) == str(a + b).zfill(n + 1)
        else:
            assert op == "-" and answer[0] == ("+" if a >= b else "-")
            assert "".join(order(answer[1:])) == str(abs(a - b)).zfill(n)
        assert chain == python_chains(a, b, n, task.kind)
        if mix == "cascade":
            assert chain >= CASCADE


def test_contract_examples():
    """The format of CURRICULUM.md, token for token."""
    add, rev, sub = Addition(), Addition(reverse=True), Subtraction()
    assert add.vocab == [str(d) for d in range(10)] + ["+", "-", "*", "=", "START"]
    assert add.config() == {"n_digits": 5, "reverse": False, "mix": "train"}
    text = "START 9 9 9 9 9 + 0 0 0 0 1 = 1 0 0 0 0 0"
    tokens = add.encode(text)[None]
    assert add.chain_lengths(tokens).item() == 5
    assert add.answer_digits(*add.operands(tokens)).tolist() == tokens[:, -6:].tolist()
    # Reversed: every number least significant digit first, the answer included.
    text = "START 9 9 9 9 9 + 1 0 0 0 0 = 0 0 0 0 0 1"
    tokens = rev.encode(text)[None]
    assert rev.answer_digits(*rev.operands(tokens)).tolist() == tokens[:, -6:].tolist()
    # Subtraction: the sign right after "=", then |a - b| zero-padded, leading zeros kept.
    text = "START 0 0 0 0 1 - 1 0 0 0 0 = - 0 9 9 9 9"
    tokens = sub.encode(text)[None]
    assert sub.answer_digits(*sub.operands(tokens)).tolist() == tokens[:, -6:].tolist()
    assert sub.chain_lengths(tokens).item() == 4
    equal = sub.encode("START 1 2 3 4 5 - 1 2 3 4 5 = + 0 0 0 0 0")[None]
    assert sub.answer_digits(*sub.operands(equal)).tolist() == equal[:, -6:].tolist()
    reversed_sub = Subtraction(reverse=True).encode("START 0 0 0 0 1 - 1 0 0 0 0 = + 9 9 9 9 0")
    assert Subtraction(reverse=True).answer_digits(
        *Subtraction(reverse=True).operands(reversed_sub[None])
    ).tolist() == [reversed_sub[-6:].tolist()]


def test_decoys_and_chains_on_hand_made_examples():
    add = Addition()
    decoy = add.encode("START 3 4 5 0 0 + 6 5 4 1 2 = 0 9 9 9 1 2")[None]
    assert add.chain_lengths(decoy).item() == 0 and add.decoy_lengths(decoy).item() == 3
    two_chains = add.encode("START 0 0 0 5 8 + 0 0 0 6 7 = 0 0 1 2 5")
    assert add.chain_per_digit(two_chains[None]).tolist() == [[1, 1, 0, 0, 0]]


def fractions(task, n=40_000):
    batch = task.generate(n, seed=0)
    a, b = task.operands(batch.tokens)
    answer = batch.tokens[:, task.answer_start :]
    cascade = task.chain_lengths(batch.tokens) >= CASCADE
    return batch, a, b, answer, cascade


def test_addition_mix_oversamples_the_hard_cases():
    # Uniform operands almost never show a cascade: about 1.4% of sums.
    _, _, _, _, uniform = fractions(Addition(mix="uniform"))
    assert 0.005 < uniform.float().mean() < 0.025
    batch, a, b, answer, cascade = fractions(Addition())
    assert 0.20 < cascade.float().mean() < 0.25
    assert (Addition().decoy_lengths(batch.tokens) >= CASCADE).float().mean() > 0.045
    two_leading_zeros = (answer[:, 0] == 0) & (answer[:, 1] == 0)
    assert two_leading_zeros.float().mean() > 0.06
    # Even rows are uniform: their cascades are as rare as in the uniform mix.
    assert cascade[::2].float().mean() < 0.025 and cascade[1::2].float().mean() > 0.4
    chains = Addition().chain_lengths(batch.tokens[1::2])
    for length in range(1, 6):  # every chain length appears among the hard rows
        assert (chains == length).float().mean() > 0.1


def test_subtraction_mix_oversamples_the_hard_cases():
    _, _, _, _, uniform = fractions(Subtraction(mix="uniform"))
    assert uniform.float().mean() < 0.02
    batch, a, b, answer, cascade = fractions(Subtraction())
    assert 0.12 < cascade.float().mean() < 0.18
    assert (a == b).all(1).float().mean() > 0.015
    negative = (answer[:, 0] == Subtraction().token_id("-")).float().mean()
    assert 0.45 < negative < 0.55
    assert (answer[:, 1] == 0).float().mean() > 0.25  # leading zeros of |a - b|
    chains = Subtraction().chain_lengths(batch.tokens[1::2])
    for length in range(1, 5):
        assert (chains == length).float().mean() > 0.1


def test_evaluation_mixes():
    cascade = Subtraction(mix="cascade")
    assert (cascade.chain_lengths(cascade.generate(2000, seed=1).tokens) >= CASCADE).all()
    decoy = Addition(mix="decoy")
    assert (decoy.decoy_lengths(decoy.generate(2000, seed=1).tokens) >= CASCADE).all()
    with pytest.raises(ValueError, match="n_digits >= 4"):
        Subtraction(3, mix="cascade")


def test_metrics_read_the_uniform_rows_and_the_cascades():
    task = Addition()
    batch = task.generate(400, seed=3)
    perfect = torch.nn.functional.one_hot(batch.tokens.roll(-1, dims=1), task.d_vocab) * 10.0
    metrics = task.metrics(perfect, batch)
    assert metrics["accuracy"] == metrics["accuracy_uniform"] == metrics["accuracy_cascade"] == 1
    wrong_odd = perfect.clone()
    wrong_odd[1::2, -2] = wrong_odd[1::2, -2].roll(1, dims=-1)  # break the last digit
    metrics = task.metrics(wrong_odd, batch)
    assert metrics["accuracy_uniform"] == 1.0 and metrics["accuracy"] == 0.5
    assert metrics["accuracy_cascade"] < 0.1  # nearly every cascade is on an odd row
    assert "accuracy_uniform" not in Addition(mix="cascade").metrics(perfect, batch)


def test_training_loss_is_the_scored_loss():
    run = th.get_recipe("add5").build(fast=True)
    batch = run.task.generate(16, seed=0)
    net = th.models.core_module(run.model)
    with torch.no_grad():
        full = sequence_metrics(net(batch.tokens), batch)["loss"]
        assert abs(run.task.training_loss(net, batch).item() - full) < 1e-5


# -- the checks ----------------------------------------------------------------------------


def _no_normalise(resid, carry):
    carry = torch.as_tensor(carry).bool()
    return resid[carry].mean(0) - resid[~carry].mean(0)


def _adding_hook(direction, position, values):
    def hook(resid, hook):
        resid = resid.clone()
        resid[:, position] += values[:, None] * direction / direction.norm()
        return resid

    return hook


def _other_attention(pattern, n_digits):
    queries = [3 * n_digits + 3 - k for k in range(n_digits + 1)]
    a_keys = [n_digits - i for i in range(n_digits)]
    b_keys = [2 * n_digits + 1 - i for i in range(n_digits)]
    rows = pattern[:, :, queries]
    return (rows[..., a_keys] + rows[..., b_keys]).mean(0)


MISTAKES = {
    "check_carry_chains": (checks._consecutive_carries, "consecutive carries"),
    "check_pair_attention": (_other_attention, "positions holding c_k"),
    "check_carry_direction": (_no_normalise, "divide the difference of the means by its norm"),
    "check_set_projection_hook": (_adding_hook, "you added `values` along the direction"),
}


def test_generate_only_chains_are_explained():
    with pytest.raises(checks.ExerciseFailed, match="a \\+ b = 9 and a carry coming in"):
        checks.check_carry_chains(lambda a, b: (a + b >= 10).long())


def test_reversed_direction_is_explained():
    with pytest.raises(checks.ExerciseFailed, match="flip its sign"):
        checks.check_carry_direction(lambda r, c: -checks._carry_direction(r, c))
