"""`toyhelpers check`: exercises found statically, statuses read from the executed outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from toyhelpers.checks import METADATA_KEY
from toyhelpers.notebook_check import (
    ExerciseReport,
    execute,
    find_exercises,
    format_report,
    read_reports,
    run_checks,
)

CHECKS = """
from toyhelpers.checks import exercise

@exercise("good")
def check_good(x):
    assert x == 1

@exercise("bad")
def check_bad(x):
    assert x == 1, "x should be 1"

@exercise("stub")
def check_stub(fn):
    fn()

@exercise("late")
def check_late(x):
    assert x == 1
"""

STUB = """
def answer_fn():
    raise NotImplementedError("exercise: write this part")

check_stub(answer_fn)
"""


@pytest.mark.timeout(120)
def test_run_checks_end_to_end(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    nb = v4.new_notebook(
        cells=[
            v4.new_code_cell(CHECKS),
            v4.new_code_cell("check_good(1)"),
            v4.new_code_cell("check_bad(2)"),
            v4.new_code_cell(STUB),
            v4.new_code_cell("late_answer = 1 / 0"),
            v4.new_code_cell("check_late(late_answer)"),
        ]
    )
    path = tmp_path / "exercise.ipynb"
    nbformat.write(nb, path)

    reports = run_checks(path, timeout=60)

    assert [(r.exercise, r.status) for r in reports] == [
        ("good", "passed"),
        ("bad", "failed"),
        ("stub", "not attempted"),
        ("late", "failed"),
    ]
    assert reports[1].message == "x should be 1"
    assert "NameError" in reports[3].message and "late_answer" in reports[3].message
    # The kernel talks over private local sockets: no warning about unencrypted TCP.
    assert "without encryption" not in capfd.readouterr().err


@pytest.mark.timeout(120)
def test_execute_only_some_cells(tmp_path: Path) -> None:
    cells = [CHECKS, "check_good(1)", "check_bad(2)", STUB, "late_answer = 1", "check_late(1)"]
    path = tmp_path / "exercise.ipynb"
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell(c) for c in cells]), path)

    nb = execute(path, timeout=60, only={0, 3, 5})

    assert [c.cell_type for c in nb.cells] == ["code"] * 6  # the skipped cells come back
    assert [bool(c.outputs) for c in nb.cells] == [False, False, False, True, False, True]
    assert [(r.exercise, r.status) for r in read_reports(nb)] == [
        ("good", "not reached"),
        ("bad", "not reached"),
        ("stub", "not attempted"),
        ("late", "passed"),
    ]


def test_a_missing_notebook_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no notebook at .*missing.ipynb"):
        run_checks(tmp_path / "missing.ipynb")


def executed(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return v4.new_notebook(cells=list(cells))


def published(exercise: str, status: str, message: str = "") -> nbformat.NotebookNode:
    record = {"exercise": exercise, "status": status, "message": message}
    return v4.new_output("display_data", data={"text/plain": ""}, metadata={METADATA_KEY: record})


def test_find_exercises_skips_definitions_and_comments() -> None:
    nb = executed(
        v4.new_code_cell("def check_a(x):\n    pass\n# check_c(x) comes later"),
        v4.new_code_cell("check_b(1)\nchecks.check_a (2)\ncheck_b(3)"),
    )
    assert find_exercises(nb) == ["b", "a"]


def test_unrun_check_is_not_reached_and_last_outcome_wins() -> None:
    nb = executed(
        v4.new_code_cell(
            "check_sort_targets(x)\ncheck_sort_targets(y)",
            outputs=[
                published("sort targets", "failed", "no"),
                published("sort targets", "passed"),
            ],
        ),
        v4.new_code_cell("check_never(z)"),  # no outputs: execution stopped before it
        v4.new_code_cell("run_all()", outputs=[published("hidden", "not attempted")]),
    )
    assert read_reports(nb) == [
        ExerciseReport("sort_targets", "passed", ""),
        ExerciseReport("never", "not reached", "its check never ran"),
        ExerciseReport("hidden", "not attempted", ""),
    ]


def test_format_report() -> None:
    text = format_report(
        [
            ExerciseReport("a", "passed"),
            ExerciseReport("long_name", "failed", "first line\nsecond line"),
            ExerciseReport("c", "not attempted", "stub"),
        ]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["exercise", "status", "message"]
    assert lines[2].split() == ["long_name", "failed", "first", "line"]
    column = lines[0].index("status")
    assert lines[1].index("passed") == lines[2].index("failed") == lines[3].index("not") == column
    assert lines[-1] == "1 passed, 1 failed, 1 not attempted"
