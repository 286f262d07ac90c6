"""`python bench/as_image.py ARGS`: `landlord ARGS` with only what the operator image installs.

The image installs the wheel without extras (see the Dockerfile); a development environment also
has the test and devcluster extras. Some of those change what the operator does when present:
kopf imports the `kubernetes` client when it can (to recognise its models), 16 MiB of resident
memory the image never pays. The benchmarks measure the operator as deployed, so every
distribution outside the closure of the base dependencies is made unimportable here.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sys
import tomllib
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from types import ModuleType

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_distributions() -> set[str]:
    """The base dependencies of `pyproject.toml` and everything they require (with the extras they
    name, such as `psycopg[binary]`), as installed here: canonical distribution names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [(Requirement(text), "") for text in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = _canonical(requirement.name)
        extras = set(requirement.extras)
        if name in seen and not extras:
            continue
        seen.add(name)
        try:
            requires = metadata.distribution(requirement.name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            nested = Requirement(text)
            for wanted in extras or {""}:
                todo.append((nested, wanted))
    return seen


def hidden_modules() -> set[str]:
    """Top-level modules that only distributions outside the runtime closure provide."""
    runtime = runtime_distributions()
    hidden = set()
    for module, distributions in metadata.packages_distributions().items():
        if module in sys.stdlib_module_names or module in ("landlord", "bench", "tests"):
            continue
        if not any(_canonical(d) in runtime for d in distributions):
            hidden.add(module)
    return hidden


class _NotInTheImage(importlib.abc.MetaPathFinder):
    def __init__(self, hidden: set[str]) -> None:
        self.hidden = hidden

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in self.hidden:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not in the operator image)", name=fullname)
        return None


def main() -> int:
    sys.meta_path.insert(0, _NotInTheImage(hidden_modules()))
    from landlord.cli import main as landlord

    return landlord()


if __name__ == "__main__":
    sys.argv[0] = "landlord"
    sys.exit(main())
