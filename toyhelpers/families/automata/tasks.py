"""Run a small automaton over a sequence and name its state after every symbol (seed
problem 3.12). Used in lesson 20 (automata).

`BOS x1 .. xT`: the logits at position i (1 <= i <= T) give the state after reading
x1..xi, as a token `q0`, `q1`, ... The states are never in the input; `states` computes
them from the symbols, the way `programs.tasks.trace` runs a program. Three automata:

- `parity`: symbols `0`, `1`; the state is the number of `1`s so far, mod 2.
- `flipflop`: symbols `w0`, `w1` (write that bit) and `r` (read: keep the state); the
  state starts at `q0` and is the bit of the latest write.
- `cyclic`: symbols `0`..`k-1`; the state is their sum mod k (the cyclic group Z_k).

Uniform symbols would teach shortcuts that only hold on typical data: the count of `1`s
would sit near T/2, and a flip-flop would rarely go more than a few reads without a
write. So each sequence first draws its own mix (a density of `1`s for parity, a write
rate spread over two orders of magnitude for the flip-flop, a random distribution over
the k symbols for the cyclic group), then its symbols from that mix. Importing this module
needs torch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from toyhelpers.tasks import Batch, Task, choice_setting, int_setting, register

MAX_T = 256  # the longest input: the context holds BOS and T symbols
MAX_K = 16  # the largest cyclic group
KINDS = ("parity", "flipflop", "cyclic")


@register("automata")
@dataclass(frozen=True)
class Automata(Task):
    """`BOS x1 .. xT`; the logits at position i give the automaton's state after x1..xi.

    Token ids: the input symbols first (`symbols`), then the states `q0`, `q1`, ... (ids
    `n_symbols + q`), then `BOS`. `scored` marks the positions 1..T, whose *own* logits are
    graded (the target is a state, which the sequence never contains); `loss` and
    `metrics` read them so. `k` is the order of the cyclic group and is used by
    `kind="cyclic"` only.
    """

    description = "name an automaton's state after each symbol: BOS x1 .. xT -> q.. per position"

    kind: str = choice_setting("parity", KINDS)
    T: int = int_setting(16, 1)
    k: int = int_setting(3, 2, MAX_K)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.T > MAX_T:
            raise ValueError(
                f"T={self.T} symbols and BOS do not fit the context of {MAX_T + 1} positions: "
                f"T must be an int in 1..{MAX_T}"
            )

    @property
    def symbols(self) -> list[str]:
        if self.kind == "parity":
            return ["0", "1"]
        if self.kind == "flipflop":
            return ["w0", "w1", "r"]
        return [str(g) for g in range(self.k)]

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    @property
    def n_states(self) -> int:
        return self.k if self.kind == "cyclic" else 2

    @property
    def vocab(self) -> list[str]:
        return self.symbols + [f"q{q}" for q in range(self.n_states)] + ["BOS"]

    @property
    def seq_len(self) -> int:
        return self.T + 1

    def state_ids(self, states: Int[Tensor, "..."]) -> Int[Tensor, "..."]:
        """The token ids of states (`q0` is `n_symbols`)."""
        return states + self.n_symbols

    # -- generation ------------------------------------------------------------------------
    def _symbols(self, n: int, gen: torch.Generator, device: torch.device) -> Int[Tensor, "n T"]:
        u = torch.rand(n, self.T, generator=gen, device=device)
        if self.kind == "parity":
            # The density of 1s is uniform per sequence, so the count of 1s at position i is
            # close to uniform on 0..i instead of piling up near i/2.
            density = torch.rand(n, 1, generator=gen, device=device)
            return (u < density).long()
        if self.kind == "flipflop":
            # Write rate log-uniform from 1/(2T) to 1: at T = 16, 60% of the sequences write
            # less than once in four symbols (long runs of reads) and 20% more than every
            # other symbol.
            low = math.log(1 / (2 * self.T))
            rate = torch.exp(low * torch.rand(n, 1, generator=gen, device=device))
            bit = torch.randint(0, 2, (n, self.T), generator=gen, device=device)
            return torch.where(u < rate, bit, torch.full_like(bit, 2))
        # A random distribution over the k symbols per sequence (flat Dirichlet), so one
        # symbol may dominate a sequence, or the identity 0 may fill most of it.
        mix = -torch.log(torch.rand(n, self.k, generator=gen, device=device))
        cdf = (mix / mix.sum(-1, keepdim=True)).cumsum(-1)
        return torch.searchsorted(cdf, u.contiguous()).clamp(max=self.k - 1)

    def _generate(self, n: int, gen: torch.Generator, device: torch.device) -> Batch:
        bos = torch.full((n, 1), self.d_vocab - 1, dtype=torch.long, device=device)
        tokens = torch.cat([bos, self._symbols(n, gen, device)], dim=1)
        scored = torch.ones_like(tokens, dtype=torch.bool)
        scored[:, 0] = False
        return Batch(tokens, scored)

    # -- the answers -------------------------------------------------------------------------
    def states(self, tokens: Int[Tensor, "batch seq"]) -> Int[Tensor, "batch T"]:
        """The state after each prefix x1..xi, i = 1..T, as a number (0 for `q0`)."""
        return states(self.kind, tokens[:, 1:], self.k)

    # -- scoring: each position's own logits against the state there -------------------------
    def loss(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> Float[Tensor, ""]:
        target = self.state_ids(self.states(batch.tokens))
        return torch.nn.functional.cross_entropy(logits[:, 1:].flatten(0, 1), target.flatten())

    @torch.no_grad()
    def metrics(self, logits: Float[Tensor, "batch seq d_vocab"], batch: Batch) -> dict[str, float]:
        """Loss, `token_accuracy` (all positions), `accuracy` (whole sequences right),
        `worst_position_accuracy` (the accuracy of the weakest position) and the accuracy at
        each position (`accuracy_pos_i`, i = 1..T)."""
        target = self.state_ids(self.states(batch.tokens))
        correct = logits[:, 1:].argmax(-1) == target
        by_position = correct.float().mean(0)
        result = {
            "loss": self.loss(logits, batch).item(),
            "token_accuracy": correct.float().mean().item(),
            "accuracy": correct.all(-1).float().mean().item(),
            "worst_position_accuracy": by_position.min().item(),
        }
        for i, value in enumerate(by_position.tolist(), start=1):
            result[f"accuracy_pos_{i}"] = value
        return result


def states(kind: str, symbols: Int[Tensor, "batch T"], k: int = 2) -> Int[Tensor, "batch T"]:
    """Run the automaton `kind` over symbol ids (BOS left out): the state after each one."""
    if kind == "parity":
        return symbols.cumsum(-1) % 2
    if kind == "cyclic":
        return symbols.cumsum(-1) % k
    if kind == "flipflop":
        # The state is the bit of the latest write (ids 0 and 1), q0 before any write.
        T = symbols.shape[-1]
        pos = torch.arange(1, T + 1, device=symbols.device).expand_as(symbols)
        last = torch.where(symbols < 2, pos, 0).cummax(-1).values
        padded = torch.cat([torch.zeros_like(symbols[:, :1]), symbols], dim=-1)
        return torch.where(last > 0, padded.gather(-1, last), 0)
    raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def last_write_distance(symbols: Int[Tensor, "batch T"]) -> Int[Tensor, "batch T"]:
    """For a flip-flop: how many symbols back the latest write is (0 at a write itself), or
    the position i when there was none yet (the distance back to BOS)."""
    T = symbols.shape[-1]
    pos = torch.arange(1, T + 1, device=symbols.device).expand_as(symbols)
    last = torch.where(symbols < 2, pos, 0).cummax(-1).values
    return pos - last
