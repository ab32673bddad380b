"""One factory for every transformer in the course.

Models are TransformerLens 4 `TransformerBridge`s around TL's native architecture, so a
change in TransformerLens touches this file only. `ModelConfig` is the small, JSON-friendly
description that checkpoints store. A family may define another kind of model (the
modular family's one-hidden-layer MLP): its config class registers with
`register_model_kind` in the family's `models.py`, and its dict carries `"kind"`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge

from toyhelpers.tasks import Task

Norm = Literal["LN", "LNPre", "RMS"] | None
Positional = Literal["standard", "rotary"]
ACTIVATIONS = ("relu", "gelu", "gelu_new", "silu", "solu")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a toy transformer.

    `d_head` defaults to d_model // n_heads and `d_mlp` to 4 * d_model. `normalization`
    None means no LayerNorm at all (the usual choice for interpretability work).
    """

    n_layers: int
    d_model: int
    n_heads: int
    d_vocab: int
    n_ctx: int
    d_head: int | None = None
    d_mlp: int | None = None
    attn_only: bool = False
    normalization: Norm = None
    act_fn: str = "relu"
    positional: Positional = "standard"
    d_vocab_out: int | None = None

    def __post_init__(self) -> None:
        for field in ("n_layers", "d_model", "n_heads", "d_vocab", "n_ctx"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be a positive int, got {value!r}")
        if self.d_head is None and self.d_model % self.n_heads:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}; "
                "pick n_heads dividing d_model or set d_head explicitly"
            )
        if self.normalization not in (None, "LN", "LNPre", "RMS"):
            raise ValueError(
                f"normalization must be None, 'LN', 'LNPre' or 'RMS', got {self.normalization!r}"
            )
        if self.act_fn not in ACTIVATIONS:
            raise ValueError(f"act_fn must be one of {', '.join(ACTIVATIONS)}, got {self.act_fn!r}")
        if self.positional not in ("standard", "rotary"):
            raise ValueError(f"positional must be 'standard' or 'rotary', got {self.positional!r}")

    @classmethod
    def for_task(cls, task: Task, **arch: Any) -> ModelConfig:
        """A config whose vocabulary and context fit `task`."""
        return cls(d_vocab=task.d_vocab, n_ctx=task.seq_len, **arch)

    def mismatch(self, task: Task) -> str | None:
        """Why a model of this config cannot read `task`, or None if it can."""
        if self.d_vocab == task.d_vocab and self.n_ctx >= task.seq_len:
            return None
        return (
            f"the model reads {self.d_vocab} token ids and up to {self.n_ctx} positions, but "
            f"{task} has {task.d_vocab} tokens and sequences of {task.seq_len}"
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown model setting(s) {unknown}; allowed: {sorted(allowed)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def head_size(self) -> int:
        return self.d_head or self.d_model // self.n_heads

    @property
    def mlp_size(self) -> int:
        return self.d_mlp or 4 * self.d_model

    def to_bridge_config(self, seed: int = 0) -> TransformerBridgeConfig:
        d_head = self.head_size
        return TransformerBridgeConfig(
            n_layers=self.n_layers,
            d_model=self.d_model,
            n_heads=self.n_heads,
            d_head=d_head,
            d_mlp=self.mlp_size,
            d_vocab=self.d_vocab,
            d_vocab_out=self.d_vocab_out or self.d_vocab,
            n_ctx=self.n_ctx,
            attn_only=self.attn_only,
            normalization_type=self.normalization,
            act_fn=self.act_fn,
            positional_embedding_type=self.positional,
            rotary_dim=d_head if self.positional == "rotary" else None,
            seed=seed,
        )


def make_transformer(
    config: ModelConfig, *, seed: int = 0, device: str | torch.device = "cpu"
) -> TransformerBridge:
    """A freshly initialised TransformerLens model; the same seed gives the same weights."""
    bridge = TransformerBridge.boot_native(config.to_bridge_config(seed=seed))
    bridge.toy_config = config  # what checkpoints record about this model
    return bridge.to(device, print_details=False)


# -- other kinds of model ---------------------------------------------------------------

# kind -> config class. A class here is a frozen dataclass with a `kind` field, `to_dict()`,
# `for_task(task, **arch)` and `build(seed=, device=)`, and the model it builds keeps it
# as `toy_config`.
_MODEL_KINDS: dict[str, type] = {}
AnyConfig = Any  # a ModelConfig or a registered kind's config


def register_model_kind(kind: str) -> Callable[[type], type]:
    """Class decorator: checkpoints whose model config says `"kind": kind` use this class."""

    def wrap(cls: type) -> type:
        if _MODEL_KINDS.setdefault(kind, cls) is not cls:
            raise ValueError(f"model kind {kind!r} is registered twice")
        return cls

    return wrap


def config_class(kind: str | None) -> type:
    """The config class of model kind `kind` (None: the transformer's `ModelConfig`)."""
    if kind is None:
        return ModelConfig
    if kind not in _MODEL_KINDS:
        from toyhelpers import families

        families.load("models")  # a family's models.py registers its kinds
    if kind not in _MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; kinds: {', '.join(sorted(_MODEL_KINDS))}")
    return _MODEL_KINDS[kind]


def model_config_of(model: torch.nn.Module) -> AnyConfig:
    config = getattr(model, "toy_config", None)
    if not isinstance(config, (ModelConfig, *_MODEL_KINDS.values())):
        raise ValueError(
            "this model was not made by toyhelpers (make_transformer, or a model kind's "
            "build()); it has no config to save"
        )
    return config


def config_from_dict(data: dict[str, Any]) -> AnyConfig:
    """The config a checkpoint stored: a transformer's, or another kind's (`"kind"` set)."""
    if data.get("kind") is None:
        return ModelConfig.from_dict(data)
    return config_class(data["kind"])(**data)


def build_model(
    config: AnyConfig, *, seed: int = 0, device: str | torch.device = "cpu"
) -> torch.nn.Module:
    """A freshly initialised model of any kind; the same seed gives the same weights."""
    if isinstance(config, ModelConfig):
        return make_transformer(config, seed=seed, device=device)
    return config.build(seed=seed, device=device)


def to_device(model: torch.nn.Module, device: str | torch.device) -> torch.nn.Module:
    """Move a model of either kind (bridges take an extra argument to stay quiet)."""
    if isinstance(model, TransformerBridge):
        return model.to(device, print_details=False)
    return model.to(device)


def core_module(model: torch.nn.Module) -> torch.nn.Module:
    """The plain PyTorch module inside a bridge: what training steps and checkpoints use.

    Its state dict has short, stable names (`layers.0.attn.q.weight`), and its forward
    skips the hook machinery, which matters for tiny models on a CPU.
    """
    return getattr(model, "original_model", model)


# The projections that write a block's output into the residual stream.
_BLOCK_OUTPUTS = ("attn.o.weight", "attn.o.bias", "mlp.out.weight", "mlp.out.bias")


def insert_blocks(model: TransformerBridge, earlier: TransformerBridge, at: int) -> None:
    """Load the shallower `earlier` into `model`, with `model`'s extra blocks inserted at `at`.

    Blocks `0..at-1` of `earlier` stay where they are, the rest move up by the number of new
    blocks, and every other weight is copied. The new blocks keep their random init except
    the projections that write to the residual stream, which are zeroed: each new block adds
    nothing, so `model` computes exactly what `earlier` did (function-preserving growth, as
    in Net2Net's deeper networks, Chen et al. 2016) and training goes on from there.
    """
    small, big = model_config_of(earlier), model_config_of(model)
    if not isinstance(small, ModelConfig) or not isinstance(big, ModelConfig):
        raise ValueError("insert_blocks grows transformers only")
    extra = big.n_layers - small.n_layers
    if dataclasses.replace(small, n_layers=big.n_layers) != big or extra <= 0:
        raise ValueError(
            "insert_blocks needs a deeper model that differs from the earlier one in "
            f"n_layers only: {small} vs {big}"
        )
    if not 0 <= at <= small.n_layers:
        raise ValueError(f"at must be in 0..{small.n_layers} for {small.n_layers} blocks, got {at}")
    state = model.state_dict()
    for key, value in earlier.state_dict().items():
        parts = key.split(".")
        if parts[0] == "blocks" and int(parts[1]) >= at:
            parts[1] = str(int(parts[1]) + extra)
        state[".".join(parts)] = value.clone()
    for block in range(at, at + extra):
        for name in _BLOCK_OUTPUTS:
            state[f"blocks.{block}.{name}"] = torch.zeros_like(state[f"blocks.{block}.{name}"])
    model.load_state_dict(state)


# How `widen` grows each weight, by its name inside a block or the model: weights that read
# the residual stream (last axis d_model), weights that write to it (first axis d_model),
# vectors in residual space (tiled), and the biases of the readers.
_READERS = ("attn.q.weight", "attn.k.weight", "attn.v.weight", "mlp.in.weight", "unembed.weight")
_WRITERS = ("attn.o.weight", "mlp.out.weight")
_RESIDUAL = ("embed.weight", "pos_embed.weight", "attn.o.bias", "mlp.out.bias")
_READER_BIASES = ("attn.q.bias", "attn.k.bias", "attn.v.bias", "mlp.in.bias", "unembed.bias")
_WIDTHS = ("d_model", "n_heads", "d_head", "d_mlp")


def widen(model: TransformerBridge, earlier: TransformerBridge, *, seed: int = 0) -> None:
    """Load the narrower `earlier` into `model`, which may have a wider residual stream, more
    heads of the same size and more MLP neurons, without changing what it computes.

    The residual stream is copied `k = d_model / earlier d_model` times side by side: every
    weight that writes to it (embeddings, `W_O`, `W_out`, their biases, LayerNorm gains and
    biases) is tiled, so each copy holds the old stream, and LayerNorm, whose mean and
    variance are the same over k equal copies, normalises it as before. Every weight that
    reads it (`W_Q`, `W_K`, `W_V`, `W_in`, the unembedding) is split across the copies in
    random proportions that sum to one, so it reads the old value; the random split makes
    the copies' gradients differ, so they part as training goes on (Net2Net's wider networks,
    Chen et al. 2016, with the split in place of added noise). New heads and neurons keep
    `model`'s random init except their outputs, which are zeroed.
    """
    small, big = model_config_of(earlier), model_config_of(model)
    if not isinstance(small, ModelConfig) or not isinstance(big, ModelConfig):
        raise ValueError("widen grows transformers only")
    k, rest = divmod(big.d_model, small.d_model)
    others = {f: v for f, v in small.to_dict().items() if f not in _WIDTHS}
    if (
        rest
        or big.head_size != small.head_size
        or big.n_heads < small.n_heads
        or big.mlp_size < small.mlp_size
        or others != {f: v for f, v in big.to_dict().items() if f not in _WIDTHS}
    ):
        raise ValueError(
            "widen needs a model whose d_model is a multiple of the earlier one's, with at "
            "least as many heads of the same size, at least as many MLP neurons, and the "
            f"same config otherwise: {small} vs {big}"
        )
    gen = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    for key, old in earlier.state_dict().items():
        new = state[key].clone()
        name = key.split(".", 2)[2] if key.startswith("blocks.") else key
        if name in _READERS:
            shares = torch.rand((k, *old.shape), generator=gen) + 0.5
            new[: old.shape[0]] = torch.cat(list(old * shares / shares.sum(0)), dim=-1)
        elif name in _WRITERS:
            new.zero_()
            new[:, : old.shape[1]] = old.repeat(k, 1)
        elif name in _RESIDUAL or name.startswith(("ln1.", "ln2.", "ln_final.")):
            new = old.repeat(*([1] * (old.ndim - 1)), k)
        elif name in _READER_BIASES:
            new[: old.shape[0]] = old
        else:
            raise ValueError(f"widen does not know how to grow the weight {key}")
        state[key] = new
    model.load_state_dict(state)


def check_fits(model: torch.nn.Module, task: Task) -> None:
    """Raise a ValueError saying what differs when `model` was not made for `task`."""
    config = getattr(model, "toy_config", None)
    if config is None and hasattr(model, "cfg"):  # a TransformerLens model made elsewhere
        cfg = model.cfg
        config = ModelConfig(
            cfg.n_layers, cfg.d_model, cfg.n_heads, d_vocab=cfg.d_vocab, n_ctx=cfg.n_ctx
        )
    why = config.mismatch(task) if config is not None else None
    if why:
        raise ValueError(
            f"the model and the task do not match: {why}. Use a model trained on this task "
            "(e.g. th.load_pretrained(NAME) and its .task) or build one with "
            "ModelConfig.for_task(task, ...)"
        )


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in core_module(model).parameters())


def tail_logits(
    model: torch.nn.Module, tokens: Int[Tensor, "batch seq"], k: int = 1
) -> Float[Tensor, "batch k d_vocab_out"]:
    """Logits at the last `k` positions: exactly `model(tokens)[:, -k:]`, computed cheaper.

    Tasks scored only at their end (modular arithmetic: one answer after `a b =`) need
    nothing else. Every block still reads every position, but the last block's MLP and
    the unembedding, most of the cost of a 1-layer model, run on the last `k` alone: about
    2x faster per full-batch grokking step on a CPU (benchmarks/grokking_speed.py), with
    identical gradients.
    """
    return tail_logits_and_residual(model, tokens, k)[0]


def tail_logits_and_residual(
    model: torch.nn.Module, tokens: Int[Tensor, "batch seq"], k: int = 1
) -> tuple[Float[Tensor, "batch k d_vocab_out"], Float[Tensor, "batch seq d_model"]]:
    """`tail_logits`, and the residual stream entering the last block at every position
    (`blocks.{n_layers - 1}.hook_resid_pre`), for a training loss that reads it too."""
    net = core_module(model)
    if not 1 <= k <= tokens.shape[1]:
        raise ValueError(f"k must be in 1..{tokens.shape[1]} for {tokens.shape[1]} tokens, got {k}")
    if net.output_logits_soft_cap > 0:
        raise ValueError("tail_logits does not support logit soft-capping")
    seq = tokens.shape[1]
    position_ids = torch.arange(seq, device=tokens.device).expand(tokens.shape[0], -1)
    hidden = net.tok_embed(tokens)
    if net.pos is not None:
        hidden = hidden + net.pos(position_ids)
    *early, last = net.layers
    for block in early:
        (hidden,) = block(hidden, position_ids=position_ids)
    resid_pre = hidden
    attn_out, _ = last.attn(last.ln1(hidden), position_ids=position_ids)
    hidden = (hidden + attn_out)[:, -k:]
    if not last.cfg.attn_only:
        hidden = hidden + last.mlp(last.ln2(hidden))
    return net.head(net.ln_out(hidden)), resid_pre
