"""The permute task (problem 04), its shipped model, and the checks of its exercises."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toyhelpers as th
from toyhelpers.checks import ExerciseFailed, ExerciseNotAttempted
from toyhelpers.exercises import permute as ex
from toyhelpers.tasks.permutation import Permute


def test_permute_is_listed():
    assert "permute" in th.list_tasks()


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"length": 1}, "length must be an int in 2..32"),
        ({"length": 33}, "length must be an int in 2..32"),
        ({"length": 4.0}, "length must be an int"),
        ({"n_values": 1}, "n_values must be an int in 2..1000"),
        ({"n_values": "10"}, "n_values must be an int"),
    ],
)
def test_bad_settings_say_what_is_allowed(settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task("permute", **settings)


def test_unknown_setting_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="its settings are: length, n_values"):
        th.get_task("permute", size=3)


def test_vocabulary_keeps_values_and_positions_apart():
    task = th.get_task("permute", length=4, n_values=6)
    assert task.vocab == [*"012345", "P0", "P1", "P2", "P3", "START", "SEP"]
    assert task.token_id("3") != task.token_id("P3")


def test_example_decodes_as_documented():
    task = th.get_task("permute", length=3, n_values=10)
    text = "START 7 1 4 SEP P2 4 P0 7 P1 1"
    assert task.decode(task.encode(text)) == text


@settings(max_examples=40, deadline=None)
@given(length=st.integers(2, 16), n_values=st.integers(2, 60), seed=st.integers(0, 2**31))
def test_permute_format(length, n_values, seed):
    task = Permute(length, n_values)
    batch = task.generate(16, seed=seed)
    toks = batch.tokens
    assert toks.shape == (16, task.seq_len) == (16, 3 * length + 2)
    assert (toks[:, 0] == task.token_id("START")).all()
    assert (toks[:, length + 1] == task.token_id("SEP")).all()
    xs = toks[:, list(task.input_positions)]
    perm = toks[:, list(task.permutation_positions)] - n_values
    ys = toks[:, list(task.output_positions)]
    assert ((xs >= 0) & (xs < n_values)).all()
    assert torch.equal(perm.sort(dim=-1).values, torch.arange(length).expand(16, -1))
    assert torch.equal(ys, xs.gather(1, perm))
    want_scored = torch.zeros(task.seq_len, dtype=torch.bool)
    want_scored[list(task.output_positions)] = True
    assert (batch.scored == want_scored).all()
    # Each scored output is predicted from the position just before it, its P token.
    assert [i - 1 for i in task.output_positions] == list(task.permutation_positions)


def test_same_seed_same_data_and_different_seed_different_data():
    task = th.get_task("permute")
    a, b, c = task.generate(64, seed=7), task.generate(64, seed=7), task.generate(64, seed=8)
    assert torch.equal(a.tokens, b.tokens)
    assert not torch.equal(a.tokens, c.tokens)


def test_bad_generate_arguments():
    task = th.get_task("permute")
    with pytest.raises(ValueError, match="n must be a positive int"):
        task.generate(0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        task.generate(4, seed=-2)


def test_shipped_permute_meets_its_target_on_fresh_data():
    model = th.load_pretrained("permute")
    metrics = th.evaluate(model, model.task, n=2000, seed=777)
    assert metrics["accuracy"] >= 0.99
    size = sum(p.stat().st_size for p in th.checkpoints.pretrained_dir("permute").iterdir())
    assert size < 1_000_000


# -- the exercise checks -----------------------------------------------------------------


def test_reference_answers_pass(capsys):
    ex.check_routing_attention(ex._routing_attention)
    ex.check_read_permutation(ex._read_permutation)
    ex.check_routing_rate(ex._routing_rate)
    ex.check_position_qk(ex._position_qk)
    assert capsys.readouterr().out.count("check passed") == 4


def test_stubs_are_not_attempted():
    def stub(*args):
        raise NotImplementedError("exercise: write this part")

    for check in (ex.check_routing_attention, ex.check_read_permutation, ex.check_position_qk):
        with pytest.raises(ExerciseNotAttempted):
            check(stub)
    with pytest.raises(ExerciseNotAttempted):
        ex.check_routing_rate(None)


def test_output_rows_instead_of_p_rows_are_explained():
    def output_rows(pattern, length):
        return pattern[:, :, length + 3 : 3 * length + 2 : 2, 1 : length + 1]

    with pytest.raises(ExerciseFailed, match="position before it"):
        ex.check_routing_attention(output_rows)


def test_hard_coded_length_is_caught():
    def fixed(pattern, length):
        return pattern[:, :, 7:17:2, 1:6]

    with pytest.raises(ExerciseFailed, match="shape"):
        ex.check_routing_attention(fixed)


def test_token_ids_instead_of_indices_are_explained():
    def ids(tokens, length, n_values):
        return tokens[:, length + 2 : 3 * length + 2 : 2]

    with pytest.raises(ExerciseFailed, match="subtract n_values"):
        ex.check_read_permutation(ids)


def test_mean_attention_instead_of_argmax_names_the_head():
    def mean_on_named(attention, perm):
        named = attention.gather(-1, perm[:, None, :, None].expand(-1, attention.shape[1], -1, 1))
        return named.mean(dim=(0, 2, 3))

    with pytest.raises(ExerciseFailed, match="head 0"):
        ex.check_routing_rate(mean_on_named)


def test_swapped_qk_is_explained():
    def swapped(model, length, n_values):
        return ex._position_qk(model, length, n_values).T

    with pytest.raises(ExerciseFailed, match="swapped"):
        ex.check_position_qk(swapped)
