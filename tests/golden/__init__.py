"""Golden files: the exact output of `landlord render` and `landlord validate`, checked in.

- `render/<tenant>.yaml`: `landlord render examples --catalog plans --catalog addons --tenant
  <tenant>` for every example tenant, with the default configuration and a fixed `--now`;
- `validate/<fixture>.txt`: `landlord validate` of each file in `tests/fixtures/broken/`, and
  `validate/broken-folder.txt` of the whole folder (the checks across files).

Each file starts with the command (run from the repository root) and its exit status as `#`
lines, then its stdout, then its stderr (if any) as `# ` lines. `make golden`
(`python -m tests.golden --update`) regenerates them all; review the change with `git diff`.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
FOLDERS = ("render", "validate")
NOW = "2025-01-01T00:00:00Z"
CATALOG = ("--catalog", "plans", "--catalog", "addons")
BROKEN = Path("tests") / "fixtures" / "broken"
REGENERATE = "make golden"


@dataclass(frozen=True)
class Case:
    name: str  # the golden file, relative to tests/golden/
    args: tuple[str, ...]  # the `landlord` arguments, paths relative to the repository root

    @property
    def command(self) -> str:
        return " ".join(("landlord", *self.args))


def cases() -> list[Case]:
    from landlord.documents import read

    found = read([ROOT / "examples"]).documents
    tenants = sorted({d.name for d in found if d.is_landlord and d.kind == "Tenant" and d.name})
    render = [
        Case(f"render/{name}.yaml", ("render", "examples", *CATALOG, "--tenant", name, "--now", NOW))
        for name in tenants
    ]
    fixtures = sorted(p.name for p in (ROOT / BROKEN).iterdir() if p.suffix in (".yaml", ".yml"))
    validate = [Case(f"validate/{Path(name).stem}.txt", ("validate", str(BROKEN / name))) for name in fixtures]
    validate.append(Case("validate/broken-folder.txt", ("validate", str(BROKEN))))
    return render + validate


@contextlib.contextmanager
def _at_root() -> Iterator[None]:
    """From the repository root, with the default configuration ($LANDLORD_CONFIG unset)."""
    saved = os.environ.pop("LANDLORD_CONFIG", None)
    try:
        with contextlib.chdir(ROOT):
            yield
    finally:
        if saved is not None:
            os.environ["LANDLORD_CONFIG"] = saved


def produce(case: Case) -> str:
    """What the golden file of this case should hold, from running the command in-process."""
    from landlord.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _at_root(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(case.args))
        except SystemExit as exc:  # argparse
            status = exc.code if isinstance(exc.code, int) else 1
    text = f"# {case.command}\n# exit status {status}\n{out.getvalue()}"
    if err.getvalue():
        text += "# stderr:\n" + "".join(f"# {line}\n" for line in err.getvalue().splitlines())
    return text


def difference(case: Case, folder: Path = GOLDEN) -> str | None:
    """None when the golden file holds what the command prints now, else a unified diff."""
    path = folder / case.name
    expected = path.read_text() if path.exists() else ""
    actual = produce(case)
    if actual == expected:
        return None
    return "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"tests/golden/{case.name} (checked in)" if path.exists() else "(missing)",
            tofile=f"`{case.command}` now",
        )
    )


def stale(folder: Path = GOLDEN) -> list[str]:
    """Golden files that no case produces any more (a removed example or fixture)."""
    wanted = {case.name for case in cases()}
    present = {
        str(p.relative_to(folder)) for sub in FOLDERS if (folder / sub).is_dir() for p in (folder / sub).iterdir()
    }
    return sorted(present - wanted)


def update(folder: Path = GOLDEN) -> list[str]:
    """Writes every golden file and removes stale ones; returns what changed."""
    changed: list[str] = []
    for case in cases():
        path = folder / case.name
        text = produce(case)
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(f"wrote {path.relative_to(folder)}")
    for name in stale(folder):
        (folder / name).unlink()
        changed.append(f"removed {name}")
    return changed
