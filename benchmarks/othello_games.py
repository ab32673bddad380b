"""Random Othello games per second: the vectorised engine against the one-board reference.

`families.othello.engine.random_games` (in chunks, as a data pipeline would call it) and the
pure-Python `families.othello.reference.random_game` play random games in this process,
alternating several times; the report is the ratio of their median games per second, per
board size. Then the training draw, the same way: `Othello.sample` (games with their legal
sets, what a training step asks for) one batch per step against one pool of `--pool`
batches, each against the reference. Last, the time the vectorised engine takes for a big
batch of 6x6 games (the shipped model's data). Run:
`python benchmarks/othello_games.py [--sizes 6 8] [--games N] [--repeats R] [--threads T]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

import toyhelpers as th
from toyhelpers.families.othello import reference
from toyhelpers.families.othello.engine import random_games


def vectorised(size: int, games: int, chunk: int, seed: int) -> float:
    """Games per second of `random_games`, called on chunks of `chunk` games."""
    start = time.perf_counter()
    for i, lo in enumerate(range(0, games, chunk)):
        random_games(min(chunk, games - lo), size, seed=seed + i)
    return games / (time.perf_counter() - start)


def training_draw(size: int, batch: int, calls: int, seed: int) -> float:
    """Games per second of `Othello.sample` (moves and legal sets), `calls` draws of `batch`."""
    task, gen = th.get_task("othello", size=size), torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(calls):
        task.sample(batch, gen)
    return batch * calls / (time.perf_counter() - start)


def one_at_a_time(size: int, games: int, seed: int) -> float:
    """Games per second of the reference engine, one game after another."""
    rng = random.Random(seed)
    start = time.perf_counter()
    for _ in range(games):
        reference.random_game(size, rng)
    return games / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[6, 8])
    parser.add_argument("--games", type=int, default=20_000, help="vectorised games a repeat")
    parser.add_argument("--chunk", type=int, default=10_000, help="games per random_games call")
    parser.add_argument("--ref-games", type=int, default=500, help="reference games a repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big", type=int, default=200_000, help="6x6 games to time; 0 skips")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    parser.add_argument("--batch", type=int, default=256, help="games a training step uses")
    parser.add_argument("--pool", type=int, default=64, help="batches a pool holds")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch threads {torch.get_num_threads()}, {args.repeats} repeats of {args.games} "
        f"vectorised games (chunks of {args.chunk}) and {args.ref_games} reference games"
    )
    for size in args.sizes:
        vec, ref = [], []
        vectorised(size, min(args.chunk, 1000), args.chunk, seed=-1)  # warm-up
        for r in range(args.repeats):
            vec.append(vectorised(size, args.games, args.chunk, seed=1000 * r))
            ref.append(one_at_a_time(size, args.ref_games, seed=r))
        v, p = statistics.median(vec), statistics.median(ref)
        print(f"{size}x{size}: vectorised {v:9.0f} games/s, reference {p:7.0f} games/s, ", end="")
        print(f"ratio vectorised / reference: {v / p:.1f}")
    for size in args.sizes:
        step, pool, ref = [], [], []
        for r in range(args.repeats):
            step.append(training_draw(size, args.batch, 8, seed=r))
            pool.append(training_draw(size, args.batch * args.pool, 1, seed=r))
            ref.append(one_at_a_time(size, args.ref_games, seed=r))
        s, p, f = (statistics.median(x) for x in (step, pool, ref))
        print(
            f"{size}x{size} training draw: a batch of {args.batch} per step {s:7.0f} games/s "
            f"({s / f:.1f}x the reference), a pool of {args.pool} batches {p:7.0f} games/s "
            f"({p / f:.1f}x the reference, {p / s:.1f}x per step)"
        )
    if args.big:
        start = time.perf_counter()
        vectorised(6, args.big, args.chunk, seed=0)
        seconds = time.perf_counter() - start
        print(
            f"{args.big} 6x6 games, vectorised: {seconds:.1f} s ({args.big / seconds:.0f} games/s)"
        )


if __name__ == "__main__":
    main()
