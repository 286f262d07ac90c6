"""Optional parts of Landlord and the packages they need beyond the operator image.

The image installs only what `landlord run`, `validate`, `render` and `crds` need. The in-memory
API server (`landlord dev`, `landlord devcluster`, the tests) needs the `devcluster` extra;
a command that needs it calls `require_devcluster()` first, so that a user without it reads
one line saying what to install instead of a traceback.
"""

from __future__ import annotations

import importlib
import sys

DEVCLUSTER_MODULES = ("kubernetes_validate", "jsonpatch")
"""Modules of the `devcluster` extra (PyPI kubernetes-validate and jsonpatch)."""

DEVCLUSTER_HINT = "pip install 'landlord[devcluster]'"


def missing_modules(modules: tuple[str, ...] = DEVCLUSTER_MODULES) -> list[str]:
    """The modules among `modules` that cannot be imported."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def require_devcluster(command: str) -> None:
    """Exit with status 2 and one line naming the extra when the emulator's packages are missing."""
    missing = missing_modules()
    if missing:
        print(
            f"{command} needs the in-memory cluster's packages ({', '.join(missing)} missing): {DEVCLUSTER_HINT}",
            file=sys.stderr,
        )
        raise SystemExit(2)
