"""The automata family: the format, the states, the balance of hard cases, bad settings,
and lesson 20's checks."""

import pytest
import torch

import toyhelpers as th
from toyhelpers.families.automata.tasks import last_write_distance, states


def run_automaton(kind: str, symbols: list[str], k: int) -> list[int]:
    """An interpreter written apart from the task's: one symbol at a time."""
    state, out = 0, []
    for s in symbols:
        if kind == "parity":
            state ^= int(s)
        elif kind == "cyclic":
            state = (state + int(s)) % k
        elif s != "r":
            state = int(s[1])
        out.append(state)
    return out


@pytest.mark.parametrize("kind", ["parity", "flipflop", "cyclic"])
def test_format_and_states(kind):
    task = th.get_task("automata", kind=kind, T=12, k=5)
    assert task.vocab[-1] == "BOS" and task.vocab[task.n_symbols] == "q0"
    assert len(task.vocab) == task.n_symbols + task.n_states + 1
    batch = task.generate(200, seed=0)
    assert batch.tokens.shape == (200, 13) and (batch.tokens[:, 0] == task.d_vocab - 1).all()
    assert (batch.tokens[:, 1:] < task.n_symbols).all(), "no state or BOS among the inputs"
    assert batch.scored[:, 1:].all() and not batch.scored[:, 0].any()
    for row in batch.tokens:
        symbols = task.decode(row).split()[1:]
        assert task.states(row[None])[0].tolist() == run_automaton(kind, symbols, task.k)


def test_flipflop_starts_at_q0_and_reads_keep_the_state():
    task = th.get_task("automata", kind="flipflop", T=6)
    tokens = task.encode("BOS r r w1 r w0 r")[None]
    assert task.states(tokens)[0].tolist() == [0, 0, 1, 1, 0, 0]
    assert last_write_distance(tokens[:, 1:])[0].tolist() == [1, 2, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="kind must be one of"):
        states("nope", tokens[:, 1:])


def test_the_mix_varies_per_sequence():
    # Parity: the count of 1s is spread over 0..T, not piled up near T/2.
    ones = th.get_task("automata", kind="parity", T=16).generate(4000, seed=1).tokens[:, 1:]
    counts = torch.bincount(ones.sum(-1), minlength=17).float() / 4000
    assert counts.min() > 0.02 and counts.max() < 0.1
    # Flip-flop: long runs of reads since the last write are common, and so are sequences
    # with writes at most positions.
    ff = th.get_task("automata", kind="flipflop", T=16).generate(4000, seed=2).tokens[:, 1:]
    distance = last_write_distance(ff)[:, -1]
    assert (distance >= 8).float().mean() > 0.2
    assert ((ff < 2).float().mean(-1) > 0.5).float().mean() > 0.15
    # Cyclic: a sequence is often dominated by one symbol; every final state is common.
    task = th.get_task("automata", kind="cyclic", T=16, k=3)
    cyc = task.generate(4000, seed=3).tokens
    top = torch.stack([(cyc[:, 1:] == g).float().mean(-1) for g in range(3)]).max(0).values
    assert (top > 0.7).float().mean() > 0.2
    final = torch.bincount(task.states(cyc)[:, -1], minlength=3).float() / 4000
    assert (final - 1 / 3).abs().max() < 0.05


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(kind="dfa"), "kind must be one of 'parity', 'flipflop', 'cyclic'"),
        (dict(T=300), "do not fit the context of 257 positions"),
        (dict(T=0), "T must be an int >= 1"),
        (dict(kind="cyclic", k=1), "k must be an int in 2..16"),
        (dict(kind="cyclic", k=17), "k must be an int in 2..16"),
        (dict(length=8), "no setting"),
    ],
)
def test_bad_settings_are_explained(settings, message):
    with pytest.raises(ValueError, match=message):
        th.get_task("automata", **settings)


def test_metrics_score_each_position_on_its_own_logits():
    task = th.get_task("automata", kind="cyclic", T=8, k=4)
    batch = task.generate(300, seed=4)
    logits = torch.zeros(300, task.seq_len, task.d_vocab)
    rows = torch.arange(300)[:, None]
    logits[rows, torch.arange(1, 9), task.state_ids(task.states(batch.tokens))] = 1.0
    metrics = task.metrics(logits, batch)
    assert metrics["accuracy"] == metrics["worst_position_accuracy"] == 1.0
    assert {f"accuracy_pos_{i}" for i in range(1, 9)} <= set(metrics)
    shifted = torch.roll(logits, 1, dims=1)  # the next-token alignment: must not score
    assert task.metrics(shifted, batch)["accuracy"] < 0.1


def test_a_rotary_model_reads_longer_inputs_with_the_same_weights():
    from toyhelpers.families.automata.analysis import accuracy_by_position, at_length

    model = th.load_pretrained("automata_flipflop")
    longer = at_length(model, 24)
    tokens = model.task.generate(50, seed=5).tokens
    torch.testing.assert_close(
        accuracy_by_position(longer, tokens), accuracy_by_position(model, tokens)
    )
    assert longer.task.T == 24 and longer.cfg.n_ctx == 25


def test_previous_write_and_knock_out_find_the_right_keys():
    from toyhelpers.families.automata.analysis import knock_out_hook, previous_write

    task = th.get_task("automata", kind="flipflop", T=8)
    symbols = task.encode("BOS r w1 r w0 r r w1 r")[None, 1:]
    assert previous_write(symbols)[0].tolist() == [0, 0, 0, 2, 2, 2, 4, 4]
    pattern = torch.full((1, 2, 9, 9), 0.1)
    keys = torch.tensor([[0, 2, 2, 4, 4, 4, 7, 7]])
    knocked = knock_out_hook(keys)(pattern, None)
    assert knocked[0, :, 3, 2].eq(0).all() and knocked[0, :, 8, 7].eq(0).all()
    assert knocked[0, :, 1].eq(0.1).all(), "key 0 (no write yet) is left alone"
    assert (pattern - knocked).sum() == pytest.approx(0.1 * 2 * 7)


def test_variance_explained_by_count_separates_counts_from_order():
    from toyhelpers.families.automata.analysis import variance_explained_by_count

    tokens = th.get_task("automata", kind="parity", T=8).generate(500, seed=6).tokens
    count = tokens[:, 1:].cumsum(-1).float()
    position = torch.arange(8.0).expand_as(count)
    as_count = torch.stack([count, position * count], -1)
    assert variance_explained_by_count(as_count, tokens) == pytest.approx(1.0)
    first = tokens[:, 1:2].float().expand_as(count)  # the first symbol: not a count
    assert variance_explained_by_count(first[..., None], tokens) < 0.6


# -- the checks: one explained mistake each (tests/contracts/test_checks.py) -------------


def _one_position_early(model, tokens):
    task = model.task
    with torch.no_grad():
        logits = model(tokens)
    states = logits[:, :-1, task.n_symbols : task.n_symbols + task.n_states].argmax(-1)
    return (states == task.states(tokens)).float().mean(0)


def _uniform_over_everything(pattern):
    seq = pattern.shape[-1]
    return 0.5 * (pattern - 1 / seq).abs().sum(-1)[:, :, 1:].mean((0, 2))


def _key_to_query(pattern, tokens):
    from toyhelpers.families.automata.analysis import attention_to_last_write

    return attention_to_last_write(pattern.transpose(-1, -2), tokens)


def _zeroed_a_position(model, tokens, layer, head):
    from toyhelpers.families.automata.analysis import predicted_states

    def hook(z, hook):
        z = z.clone()
        z[:, head] = 0.0
        return z

    got = predicted_states(model, tokens, [(f"blocks.{layer}.attn.hook_z", hook)])
    return (got == model.task.states(tokens)).float().mean().item()


MISTAKES = {
    "check_accuracy_by_position": (_one_position_early, "position i - 1"),
    "check_uniform_attention_distance": (_uniform_over_everything, "causal mask"),
    "check_attention_to_last_write": (_key_to_query, "swapped"),
    "check_ablated_accuracy": (_zeroed_a_position, "zeroed position"),
}
