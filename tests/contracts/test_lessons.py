"""What every lesson of the manifest (`toyhelpers/lessons.py`) promises, checked for each.

A done lesson has both notebooks, generated and current, with Colab badges and the Colab
install line; the checkpoints, recipes and sweeps it names exist; its README row is
there. Its exercise notebook runs up to its first stub, and every stub fails its check.
The solution notebooks themselves run under nbval (`make test` collects solutions/).
"""

import re
from pathlib import Path

import nbformat
import pytest

import toyhelpers as th
from toyhelpers.checkpoints import shipped
from toyhelpers.exercises_build import COURSE_REPO, build_exercise, normalise, notebook_text
from toyhelpers.lessons import LESSONS, get_lesson
from toyhelpers.notebook_check import NOT_REACHED, execute, read_reports
from toyhelpers.sweeps import all_sweeps

ROOT = Path(__file__).resolve().parents[2]
DONE = [lesson for lesson in LESSONS if lesson.status == "done"]
IDS = [lesson.stem for lesson in DONE]
MAX_NOTEBOOK_BYTES = 200_000


def test_manifest_numbers_slugs_and_notebooks_agree():
    assert [lesson.number for lesson in LESSONS] == list(range(len(LESSONS)))
    assert len({lesson.slug for lesson in LESSONS}) == len(LESSONS)
    on_disk = sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))
    assert on_disk == [lesson.stem for lesson in DONE], "a notebook without a done lesson"
    assert get_lesson("permute") is get_lesson(4)
    with pytest.raises(ValueError, match="no lesson 'nope'"):
        get_lesson("nope")


@pytest.mark.parametrize("lesson", DONE, ids=IDS)
def test_notebooks_exist_and_are_current(lesson):
    solution = ROOT / "solutions" / f"{lesson.stem}.ipynb"
    exercise = ROOT / "notebooks" / f"{lesson.stem}.ipynb"
    nb = nbformat.read(solution, as_version=4)
    assert solution.read_text() == notebook_text(normalise(nb)), "run `make exercises`"
    assert exercise.read_text() == notebook_text(build_exercise(nb)), "run `make exercises`"
    for path, folder in ((solution, "solutions"), (exercise, "notebooks")):
        text = path.read_text()
        badge = f"colab.research.google.com/github/{COURSE_REPO}/blob/main/{folder}/{path.name}"
        assert badge in text, f"{path.name}: Colab badge missing or pointing elsewhere"
        assert f"git+https://github.com/{COURSE_REPO}" in text, f"{path.name}: no Colab install"
        assert path.stat().st_size < MAX_NOTEBOOK_BYTES
        metadata = nbformat.read(path, as_version=4).metadata
        assert metadata.colab.toc_visible, f"{path.name}: no Colab metadata"
        asks_gpu = metadata.get("accelerator") == "GPU" and metadata.colab.get("gpuType")
        assert bool(asks_gpu) == lesson.gpu, f"{path.name}: Colab runtime differs from the manifest"


@pytest.mark.parametrize("lesson", DONE, ids=IDS)
def test_what_the_lesson_uses_exists(lesson):
    recipes, checkpoints, sweeps = th.recipes.all_recipes(), shipped(), all_sweeps()
    for name in lesson.checkpoints:
        assert name in checkpoints, f"{lesson.stem} loads {name}, which is not shipped"
        assert name in recipes, f"checkpoint {name} has no recipe that made it"
    for name in lesson.recipes:
        assert name in recipes, f"{lesson.stem} names recipe {name}, which does not exist"
    for name in lesson.sweeps:
        assert sweeps[name].path.exists(), f"{lesson.stem} plots sweep {name}: not saved"
    source = (ROOT / "solutions" / f"{lesson.stem}.ipynb").read_text()
    used = set(re.findall(r'load_pretrained\(\\"(\w+)', source))
    assert used <= set(lesson.checkpoints), f"also loads {used - set(lesson.checkpoints)}"
    if lesson.checkpoints or lesson.recipes:
        assert lesson.family in {recipes[n].family for n in lesson.checkpoints + lesson.recipes}


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.stem for lesson in LESSONS])
def test_readme_row(lesson):
    readme = (ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith(f"| {lesson.number:02d} |"))
    assert row.endswith(f"| {lesson.status} |") and lesson.title in row
    assert (f"notebooks/{lesson.stem}.ipynb" in row) == (lesson.status == "done")


def first_stub_index(solution: nbformat.NotebookNode, exercise: nbformat.NotebookNode) -> int:
    """Index, in the exercise, of the first cell that holds a stub."""
    stub_ids = [c.id for c in solution.cells if "# BEGIN SOLUTION" in c.source]
    assert stub_ids, "a course notebook needs at least one exercise"
    return next(i for i, c in enumerate(exercise.cells) if c.id == stub_ids[0])


def exercise_cells(nb: nbformat.NotebookNode, start: int) -> list[int]:
    """Indices of the code cells from `start` on that hold a stub or call a check."""
    return [
        i
        for i, c in enumerate(nb.cells)
        if i >= start
        and c.cell_type == "code"
        and ("# BEGIN SOLUTION" in c.source or re.search(r"\bcheck_\w+\s*\(", c.source))
    ]


@pytest.mark.parametrize("lesson", DONE, ids=IDS)
def test_exercise_notebook_runs_until_its_first_stub_and_every_stub_fails(lesson):
    solution = nbformat.read(ROOT / "solutions" / f"{lesson.stem}.ipynb", as_version=4)
    exercise = nbformat.read(ROOT / "notebooks" / f"{lesson.stem}.ipynb", as_version=4)
    assert [c.id for c in exercise.cells] == [c.id for c in solution.cells], "run `make exercises`"
    stop = first_stub_index(solution, exercise)
    # After the first stub only the exercise cells run: the cells between them are the
    # solution's own, which nbval runs, and skipping them halves this test's time (the
    # notebooks' training and probe fits). So each check must run on its stub by itself,
    # without state from the cells skipped: an exercise is self-contained.
    stub_cells = exercise_cells(solution, stop)
    executed = execute(
        ROOT / "notebooks" / f"{lesson.stem}.ipynb", timeout=600, only={*range(stop), *stub_cells}
    )
    for index, cell in enumerate(executed.cells[:stop]):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"cell {index} failed before the first exercise: {errors[0].ename}"
    reports = read_reports(executed)
    assert reports, "no exercise checks found"
    passed = [r.exercise for r in reports if r.status == "passed"]
    assert not passed, f"checks that pass on the stubs (they cannot fail): {passed}"
    unrun = [
        f"{r.exercise}: {r.message}"
        for r in reports
        if r.status == NOT_REACHED or r.message.startswith("the check did not run")
    ]
    assert not unrun, f"checks that never judged their stub: {unrun}"
    solved_names = {
        m.group(1)
        for c in solution.cells
        if c.cell_type == "code"
        for m in re.finditer(r"\bcheck_(\w+)\s*\(", c.source)
    }
    assert {r.exercise for r in reports} == solved_names
    imported = set(
        re.findall(r"from (toyhelpers\.families\.\w+\.checks) import", solution_text(lesson))
    )
    assert imported == {lesson.checks_module}, f"checks come from {imported}"


def solution_text(lesson) -> str:
    return (ROOT / "solutions" / f"{lesson.stem}.ipynb").read_text()
