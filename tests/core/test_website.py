"""The website's page preparation: spoiler-free lessons, the index, a missing notebook.

The full build and the pages in a browser are tested by `tests/browser` (after `make site`
or inside `make test`).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from nbformat import v4

from toyhelpers.lessons import LESSONS, get_lesson
from website.build import (
    FOLD_INPUT_TAG,
    colab_url,
    index_page,
    lesson_page,
    prepare,
    spoiler_free,
)

PROGRESS_BAR = v4.new_output(
    "display_data",
    data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x"},
        "text/plain": "train: 0%",
    },
)
VERDICT = v4.new_output(  # what an exercise check displays for `toyhelpers check`
    "display_data", data={"text/plain": ""}, metadata={"toyhelpers_check": {"status": "passed"}}
)
FIGURE = v4.new_output("display_data", data={"text/html": "<div>Plotly.newPlot(...)</div>"})


def executed_solution():
    exercise = v4.new_code_cell(
        "def previous(pos):\n"
        "    # BEGIN SOLUTION\n"
        "    return pos - 1\n"
        "    # STUB: return None\n"
        "    # END SOLUTION\n"
        "check_previous(previous)",
        outputs=[PROGRESS_BAR, VERDICT, FIGURE],
    )
    answer = v4.new_markdown_cell(
        "Why one back?\n\n<!-- BEGIN SOLUTION -->\nThe MID token.\n<!-- END SOLUTION -->"
    )
    plain = v4.new_code_cell("x = 1", outputs=[FIGURE])
    secret = v4.new_code_cell("reference = 42", metadata={"tags": ["solution-only"]})
    return v4.new_notebook(cells=[exercise, answer, plain, secret])


def test_exercise_cells_show_the_stub_and_fold_the_solution() -> None:
    page = spoiler_free(executed_solution())
    stub, solution, answer, plain, secret = page.cells
    assert stub.cell_type == "markdown" and "your starting point" in stub.source
    assert "    return None\ncheck_previous(previous)" in stub.source
    assert "pos - 1" not in stub.source
    assert FOLD_INPUT_TAG in solution.metadata.tags
    assert solution.source == "def previous(pos):\n    return pos - 1\ncheck_previous(previous)"
    assert solution.outputs == [FIGURE], "figures stay, widgets and empty displays go"
    assert '<details class="course-answer">' in answer.source and "The MID token." in answer.source
    assert "BEGIN SOLUTION" not in answer.source
    assert plain.outputs == [FIGURE] and "tags" not in plain.metadata
    assert FOLD_INPUT_TAG in secret.metadata.tags and "solution-only" in secret.metadata.tags


def test_lesson_page_leads_to_the_exercises_under_the_title() -> None:
    nb = executed_solution()
    nb.cells.insert(0, v4.new_markdown_cell("# 03 · Min and max (solutions)"))
    page = lesson_page(nb, get_lesson(3))
    assert page.cells[0].source == "# 03 · Min and max"
    assert colab_url("notebooks", get_lesson(3)) in page.cells[1].source
    assert "your starting point" in page.cells[2].source


def test_spoiler_free_leaves_its_input_alone() -> None:
    nb = executed_solution()
    before = copy.deepcopy(nb)
    spoiler_free(nb)
    assert nb == before


def test_index_lists_every_lesson_with_its_page_and_both_colab_links() -> None:
    lessons = [lesson for lesson in LESSONS if lesson.status == "done"]
    text = index_page(lessons)
    for lesson in lessons:
        assert f"(lessons/{lesson.stem}.ipynb)" in text
        assert colab_url("notebooks", lesson) in text and colab_url("solutions", lesson) in text
        assert f"\nlessons/{lesson.stem}\n" in text  # in the toctree
    assert "check passed" in text and "toyhelpers check" in text
    assert "fast mode" in text and "full mode" in index_page(lessons, "full")
    with pytest.raises(ValueError, match="mode must be one of fast, full"):
        index_page(lessons, "quick")


def test_prepare_says_which_executed_notebooks_are_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="03_min_max.*make site"):
        prepare(tmp_path / "executed", tmp_path / "source", [get_lesson(3)])
