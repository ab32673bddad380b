"""Growing a trained transformer deeper without changing what it computes."""

import dataclasses

import pytest
import torch

from toyhelpers.models import ModelConfig, insert_blocks, make_transformer

SMALL = ModelConfig(n_layers=2, d_model=32, n_heads=4, d_vocab=11, n_ctx=7, normalization="LN")
TOKENS = torch.randint(0, 11, (5, 7), generator=torch.Generator().manual_seed(0))


def grown(at: int, extra: int = 2):
    earlier = make_transformer(SMALL, seed=0)
    model = make_transformer(dataclasses.replace(SMALL, n_layers=SMALL.n_layers + extra), seed=1)
    insert_blocks(model, earlier, at)
    return earlier, model


@pytest.mark.parametrize("at", [0, 1, 2])
def test_inserted_blocks_leave_the_function_unchanged(at):
    earlier, model = grown(at)
    with torch.no_grad():
        before, after = earlier(TOKENS), model(TOKENS)
    assert before.abs().max() > 0.1  # a random model whose logits are not all zero
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)


def test_old_blocks_move_up_and_new_blocks_are_silent():
    earlier, model = grown(at=1)
    old, new = earlier.state_dict(), model.state_dict()
    assert torch.equal(new["blocks.0.attn.q.weight"], old["blocks.0.attn.q.weight"])
    assert torch.equal(new["blocks.3.mlp.in.weight"], old["blocks.1.mlp.in.weight"])
    for block in (1, 2):
        assert not new[f"blocks.{block}.attn.o.weight"].any()
        assert not new[f"blocks.{block}.mlp.out.weight"].any()
        assert new[f"blocks.{block}.attn.q.weight"].any()  # the rest keeps its random init


def test_new_blocks_get_gradients():
    _, model = grown(at=1)
    model(TOKENS).logsumexp(-1).sum().backward()
    for name in ("attn.o", "mlp.out"):
        weight = model.get_submodule(f"blocks.1.{name}").weight
        assert weight.grad is not None and weight.grad.abs().max() > 0, name


def test_insert_blocks_rejects_models_that_do_not_fit():
    earlier = make_transformer(SMALL, seed=0)
    with pytest.raises(ValueError, match="n_layers only"):
        insert_blocks(make_transformer(dataclasses.replace(SMALL, d_model=64)), earlier, 1)
    with pytest.raises(ValueError, match="n_layers only"):
        insert_blocks(make_transformer(SMALL), earlier, 1)
    with pytest.raises(ValueError, match="at must be in 0..2"):
        insert_blocks(make_transformer(dataclasses.replace(SMALL, n_layers=3)), earlier, 3)
