"""Tasks: one module per family, each registering its tasks by name.

Every module in this package except `base` is a family; they are imported on the first
call to `list_tasks` or `get_task`, never when `toyhelpers` itself is imported.
"""

from toyhelpers.tasks.base import Batch, Task, get_task, list_tasks, register

__all__ = ["Batch", "Task", "get_task", "list_tasks", "register"]
