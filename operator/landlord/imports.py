"""Modules imported at their first use.

A dependency the operator needs for one capability only (psycopg for the database) costs its
memory in every process that imports the provider's module, configured or not: 10 MiB for
psycopg, against about 80 MiB for the whole operator at rest. Behind `OnFirstUse` it is imported
when the provider first touches it.
"""

from __future__ import annotations

import importlib
from typing import Any


class OnFirstUse:
    """Stands for the module `name`, importing it at the first attribute read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported at first use>"
