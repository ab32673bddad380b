"""The notebooks as products: generated from the solutions, badges right, and every
exercise notebook runs up to its first stub while each stub fails its check.

The solution notebooks themselves run under nbval (`make test` collects solutions/).
"""

import re
from pathlib import Path

import nbformat
import pytest

from toyhelpers.exercises_build import COURSE_REPO
from toyhelpers.notebook_check import execute, read_reports

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
MAX_NOTEBOOK_BYTES = 200_000


def first_stub_index(solution: nbformat.NotebookNode, exercise: nbformat.NotebookNode) -> int:
    """Index, in the exercise, of the first cell that holds a stub."""
    stub_ids = [c.id for c in solution.cells if "# BEGIN SOLUTION" in c.source]
    assert stub_ids, "a course notebook needs at least one exercise"
    return next(i for i, c in enumerate(exercise.cells) if c.id == stub_ids[0])


@pytest.mark.parametrize("solution_path", SOLUTIONS, ids=lambda p: p.stem)
def test_badge_and_install_line_point_at_the_course(solution_path):
    exercise_path = ROOT / "notebooks" / solution_path.name
    for path, folder in ((solution_path, "solutions"), (exercise_path, "notebooks")):
        text = path.read_text()
        badge = f"colab.research.google.com/github/{COURSE_REPO}/blob/main/{folder}/{path.name}"
        assert badge in text, f"{path.name}: Colab badge missing or pointing elsewhere"
        assert f"git+https://github.com/{COURSE_REPO}" in text, f"{path.name}: no Colab install"
        assert path.stat().st_size < MAX_NOTEBOOK_BYTES


@pytest.mark.parametrize("solution_path", SOLUTIONS, ids=lambda p: p.stem)
def test_exercise_notebook_runs_until_its_first_stub_and_every_stub_fails(solution_path):
    exercise_path = ROOT / "notebooks" / solution_path.name
    solution = nbformat.read(solution_path, as_version=4)
    executed = execute(exercise_path, timeout=600)
    stop = first_stub_index(solution, executed)
    for index, cell in enumerate(executed.cells[:stop]):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"cell {index} failed before the first exercise: {errors[0].ename}"
    reports = read_reports(executed)
    assert reports, "no exercise checks found"
    passed = [r.exercise for r in reports if r.status == "passed"]
    assert not passed, f"checks that pass on the stubs (they cannot fail): {passed}"
    solved_names = {
        m.group(1)
        for c in solution.cells
        if c.cell_type == "code"
        for m in re.finditer(r"\bcheck_(\w+)\s*\(", c.source)
    }
    assert {r.exercise for r in reports} == solved_names
