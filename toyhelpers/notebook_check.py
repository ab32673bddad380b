"""`toyhelpers check NOTEBOOK`: run a notebook and report every exercise's status.

The exercises are found statically, from the `check_<exercise>(...)` calls in the code
cells, so an exercise whose check never ran is still reported. Their status comes from the
metadata that `toyhelpers.checks` publishes with each check's outcome.

The notebook runs in a fresh kernel of kernelspec `kernel_name` ("python3" by default). The
"python3" kernelspec installed by ipykernel starts `python -m ipykernel_launcher`, and
jupyter_client replaces a bare `python` by `sys.executable`, so the kernel runs on the same
interpreter (and virtualenv) as this command. A kernelspec with an absolute interpreter path
(e.g. a user-level "python3" spec) is used as it is written. Where the platform has them,
the kernel talks over local sockets in a private temporary folder rather than TCP ports
(ipykernel warns about unencrypted TCP at every start otherwise).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from traitlets.config import Config

from toyhelpers.checks import FAILED, METADATA_KEY, NOT_ATTEMPTED, PASSED

NOT_REACHED = "not reached"
STATUSES = (PASSED, FAILED, NOT_ATTEMPTED, NOT_REACHED)

_CHECK_CALL = re.compile(r"\bcheck_(\w+)\s*\(")
_DEFINITION = re.compile(r"\bdef\s+$")
# The exceptions a check raises itself; any other error in a check cell means it never ran.
_CHECK_ERRORS = {"ExerciseFailed", "ExerciseNotAttempted"}


@dataclass(frozen=True)
class ExerciseReport:
    """One exercise's outcome: status is passed, failed, not attempted or not reached."""

    exercise: str
    status: str
    message: str = ""


def execute(
    path: str | Path,
    timeout: int = 600,
    kernel_name: str = "python3",
    only: Collection[int] | None = None,
) -> NotebookNode:
    """Run the notebook at `path` in its folder and return it with its outputs.

    `timeout` is per cell, in seconds. Cells that raise do not stop the run; a timeout or a
    dead kernel does, and the cells after it keep no outputs. With `only`, just the code
    cells at those indices run; the others come back as they were, without outputs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    nb = nbformat.read(path, as_version=4)
    skipped = {}
    if only is not None:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and index not in only:
                # A raw cell keeps its place (and so every index) but nbclient skips it.
                skipped[index] = cell
                nb.cells[index] = nbformat.v4.new_raw_cell(cell.source)
    with tempfile.TemporaryDirectory(prefix="toyhelpers-kernel-") as sockets:
        config = Config()
        if os.name == "posix":
            config.KernelManager.transport = "ipc"
            config.KernelManager.ip = os.path.join(sockets, "kernel")
        # The client makes (and so shuts down) its own kernel manager from this config.
        client = NotebookClient(
            nb,
            config=config,
            kernel_name=kernel_name,
            timeout=timeout,
            allow_errors=True,
            resources={"metadata": {"path": str(path.parent.resolve())}},
        )
        try:
            client.execute()
        except (CellTimeoutError, DeadKernelError):
            pass  # `nb` keeps the outputs of the cells that ran
    for index, cell in skipped.items():
        nb.cells[index] = cell
    return nb


def run_checks(
    path: str | Path, timeout: int = 600, kernel_name: str = "python3"
) -> list[ExerciseReport]:
    """Execute the notebook at `path` and report each exercise (see `execute`)."""
    return read_reports(execute(path, timeout, kernel_name))


def find_exercises(nb: NotebookNode) -> list[str]:
    """Names of the exercises whose checks the code cells call, in order of first call."""
    names: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for name in _check_calls(cell.source):
            if name not in names:
                names.append(name)
    return names


def _check_calls(source: str) -> list[str]:
    names = []
    for line in source.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for call in _CHECK_CALL.finditer(line):
            if not _DEFINITION.search(line[: call.start()]):
                names.append(call.group(1))
    return names


def read_reports(nb: NotebookNode) -> list[ExerciseReport]:
    """Each exercise's report, read from the outputs of an executed notebook `nb`.

    A check's last published outcome wins. Without one, an error in a cell that calls the
    check (say a NameError left by an earlier failing cell) makes the exercise "failed";
    otherwise it is "not reached". Exercises that published an outcome but are not called
    by name in any cell (e.g. checked through a helper) come last.
    """
    published: dict[str, dict[str, str]] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get(METADATA_KEY)
            if record:
                published[_key(record["exercise"])] = record

    reports = []
    for name in find_exercises(nb):
        record = published.pop(_key(name), None)
        if record is not None:
            reports.append(ExerciseReport(name, record["status"], record.get("message", "")))
        else:
            reports.append(_unreported(nb, name))
    for record in published.values():
        reports.append(
            ExerciseReport(record["exercise"], record["status"], record.get("message", ""))
        )
    return reports


def _key(name: str) -> str:
    # `@exercise("sort targets")` is the check of `check_sort_targets`.
    return re.sub(r"\W+", "_", name.strip().lower())


def _unreported(nb: NotebookNode, name: str) -> ExerciseReport:
    for cell in nb.cells:
        if cell.cell_type != "code" or name not in _check_calls(cell.source):
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "error" and output.ename not in _CHECK_ERRORS:
                message = f"the check did not run: {output.ename}: {output.evalue}"
                return ExerciseReport(name, FAILED, message)
    return ExerciseReport(name, NOT_REACHED, "its check never ran")


def format_report(reports: list[ExerciseReport]) -> str:
    """A table of exercise, status and message (first line), then a summary line."""
    if not reports:
        return "no exercises found (no check_<exercise>(...) calls)"
    width = max(len("exercise"), *(len(r.exercise) for r in reports))
    status_width = max(len(s) for s in STATUSES)
    lines = [f"{'exercise':<{width}}  {'status':<{status_width}}  message"]
    for r in reports:
        message = r.message.strip().splitlines()[0] if r.message.strip() else ""
        lines.append(f"{r.exercise:<{width}}  {r.status:<{status_width}}  {message}".rstrip())
    counts = {s: sum(r.status == s for r in reports) for s in STATUSES}
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(lines)


def main(path: str | Path) -> int:
    """Run the notebook at `path`, print its report; 0 when every exercise passed, else 1.

    A notebook without exercises gives 1: checking it was most likely a mistake.
    """
    reports = run_checks(path)
    print(format_report(reports))
    return 0 if reports and all(r.status == PASSED for r in reports) else 1
