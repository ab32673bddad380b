"""What `import toyhelpers` and a first `get_task` cost, against `import torch` alone.

Each measurement runs in a fresh interpreter (imports are cached within one), alternating
the baseline and the course several times; the report is the median of each and their
ratio, and which heavy packages the course pulled in. Looking up or generating a task must
not import TransformerLens: families load lazily, and their task modules need torch only.

    python benchmarks/import_cost.py [--repeats 5] [--also PATH ...]

`--also` measures other checkouts of the course in the same run (e.g. an older commit in
a `git worktree`), so that before and after are compared on the same machine and load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

BASELINE = "import torch"
COURSE = "import toyhelpers as th; th.get_task('sort_fixed').generate(4, seed=0)"
PROBE = """
import json, sys, time
start = time.perf_counter()
exec({code!r})
seconds = time.perf_counter() - start
heavy = [m for m in ("transformer_lens", "plotly", "sklearn") if m in sys.modules]
print(json.dumps({{"seconds": seconds, "heavy": heavy}}))
"""


def measure(code: str, root: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--also", type=Path, nargs="*", default=[], help="other checkouts")
    args = parser.parse_args(argv)
    roots = [Path(__file__).resolve().parents[1], *[p.resolve() for p in args.also]]
    times: dict[str, list[float]] = {"baseline": [], **{str(r): [] for r in roots}}
    heavy: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        times["baseline"].append(measure(BASELINE, roots[0])["seconds"])
        for root in roots:
            result = measure(COURSE, root)
            times[str(root)].append(result["seconds"])
            heavy[str(root)] = result["heavy"]
    base = statistics.median(times["baseline"])
    print(f"python {sys.version.split()[0]}, {args.repeats} repeats, fresh interpreter each")
    print(f"{'import torch (baseline)':<48} {base:6.2f} s")
    for root in roots:
        median = statistics.median(times[str(root)])
        pulled = ", ".join(heavy[str(root)]) or "nothing else heavy"
        print(
            f"{'toyhelpers + get_task, ' + root.name:<48} {median:6.2f} s  "
            f"({median / base:.2f}x the baseline; imports {pulled})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
