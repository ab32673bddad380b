"""Tasks: one module per family, registered by name.

`FAMILIES` lists the modules that hold tasks; they are imported on the first call to
`list_tasks` or `get_task`, never when `toyhelpers` itself is imported.
"""

from toyhelpers.tasks.base import Batch, Task, get_task, list_tasks, register

FAMILIES = ["sorting"]

__all__ = ["Batch", "Task", "get_task", "list_tasks", "register", "FAMILIES"]
