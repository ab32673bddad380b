"""Keep the solution notebooks' outputs from the nbval run, for the website.

`make test` runs every solution notebook under nbval; the website shows those notebooks
with their outputs. Executing them twice would double the longest part of CI, so when
$TOYHELPERS_EXECUTED_DIR is set, each notebook whose every cell passed is written there
with the outputs nbval collected (one file per notebook, written as soon as its last cell
has run). Without the variable nothing happens.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import nbformat
import pytest

EXECUTED_DIR_ENV = "TOYHELPERS_EXECUTED_DIR"

_failed_files: set[str] = set()


def _is_notebook_cell(item: pytest.Item) -> bool:
    # nbval's cell items keep the outputs they saw in `test_outputs`.
    return hasattr(item, "test_outputs") and hasattr(item, "cell_num")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if _is_notebook_cell(item) and report.failed:
        _failed_files.add(str(item.parent.path))
    return report


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    out_dir = os.environ.get(EXECUTED_DIR_ENV, "").strip()
    if not out_dir or not _is_notebook_cell(item):
        return
    if nextitem is not None and nextitem.parent is item.parent:
        return  # not the notebook's last cell yet
    notebook_file = item.parent
    path = Path(notebook_file.path)
    target = Path(out_dir) / path.name
    if str(path) in _failed_files:
        target.unlink(missing_ok=True)  # never leave an older copy that looks current
        return
    cells = {
        other.cell_num: other
        for other in notebook_file.session.items
        if other.parent is notebook_file and _is_notebook_cell(other)
    }
    nb = copy.deepcopy(notebook_file.nb)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells):
        ran = cells.get(number)
        if ran is None or ran.test_outputs is None:
            return  # deselected or skipped cells: the copy would be incomplete
        cell.outputs = ran.test_outputs
        cell.execution_count = number + 1
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
