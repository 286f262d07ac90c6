"""The operator image installs only what the operator needs, and the operator needs nothing more.

The image (`Dockerfile`) installs the wheel without extras: its packages are the base
dependencies of `pyproject.toml`, which must be the list in docs/architecture-layers.md. The
operator, `landlord validate` and `landlord render` must then work without the emulator's and
the tests' packages: here they run in a subprocess where those cannot be imported.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EMULATOR_AND_TEST_ONLY = {"kubernetes", "kubernetes-validate", "jsonpatch"}


def requirement_name(requirement: str) -> str:
    """The normalized project name of a requirement (PEP 503)."""
    name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def documented_image_packages() -> set[str]:
    text = (ROOT / "docs" / "architecture-layers.md").read_text()
    section = text.split("## What the image installs", 1)[1].split("\nExtras", 1)[0]
    return {requirement_name(name) for name in re.findall(r"^- `([^`]+)`", section, re.MULTILINE)}


def test_base_dependencies_are_the_documented_image_list() -> None:
    base = {requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert base == documented_image_packages()
    assert base == {
        "kopf",
        "aiohttp",
        "pyyaml",
        "jsonschema",
        "common-expression-language",
        "prometheus-client",
        "psycopg",
        "boto3",
    }
    assert not base & EMULATOR_AND_TEST_ONLY


def test_test_extra_installs_the_devcluster_extra() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {requirement_name(r) for r in extras["devcluster"]} == {"kubernetes-validate", "jsonpatch"}
    assert set(extras["devcluster"]) <= set(extras["test"])
    assert {"kubernetes", "import-linter", "pytest"} <= {requirement_name(r) for r in extras["test"]}


def test_the_image_installs_the_wheel_without_extras() -> None:
    installs = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if "pip install" in line]
    wheel_installs = [line for line in installs if ".whl" in line]
    assert len(wheel_installs) == 1, installs
    assert "[" not in wheel_installs[0], "the image must not install extras"
    assert not any("-e " in line or "requirements" in line for line in installs)


# Runs in a fresh interpreter: `kubernetes` and `kubernetes_validate` cannot be imported at all;
# `jsonpatch` (kopf's own dependency, so present in the image) cannot be imported by Landlord's code.
WITHOUT_EXTRAS = r"""
import builtins, contextlib, io, json, sys

BLOCKED = {"kubernetes", "kubernetes_validate"}
NOT_FROM_LANDLORD = {"jsonpatch"}
for name in BLOCKED:
    sys.modules[name] = None
real_import = builtins.__import__


def guarded(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__") or ""
    if level == 0 and name.partition(".")[0] in NOT_FROM_LANDLORD and importer.startswith("landlord"):
        raise ModuleNotFoundError(f"No module named {name!r} (not in the operator image)", name=name)
    return real_import(name, globals, locals, fromlist, level)


builtins.__import__ = guarded

import landlord.runner, landlord.handlers, landlord.controller, landlord.cli
from landlord.cli import main
from landlord.extras import require_devcluster

results = {}
for label, argv in [
    ("validate", ["validate", "examples", "plans", "addons"]),
    ("render", ["render", "examples", "--catalog", "plans", "--catalog", "addons", "--now", "2025-01-01T00:00:00Z"]),
]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    results[label] = {"code": code, "out": out.getvalue(), "err": err.getvalue()}

err = io.StringIO()
with contextlib.redirect_stderr(err):
    try:
        require_devcluster("landlord dev")
        results["dev"] = {"code": 0, "err": ""}
    except SystemExit as exc:
        results["dev"] = {"code": exc.code, "err": err.getvalue()}
results["emulator_modules"] = sorted(m for m in sys.modules if m.startswith("landlord.devcluster"))
print(json.dumps(results))
"""


def test_operator_validate_and_render_work_without_the_extras() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.splitlines()[-1])
    assert results["validate"]["code"] == 0, results["validate"]
    assert results["render"]["code"] == 0, results["render"]
    assert "kind: ResourceQuota" in results["render"]["out"]
    assert results["emulator_modules"] == [], "the operator and the offline commands must not load the emulator"
    assert results["dev"]["code"] == 2
    lines = results["dev"]["err"].splitlines()
    assert len(lines) == 1 and lines[0].endswith("pip install 'landlord[devcluster]'"), lines


def test_devcluster_check_passes_when_the_extra_is_installed() -> None:
    from landlord.extras import missing_modules

    assert missing_modules() == []
