"""`landlord render` and `landlord validate` print exactly what tests/golden/ holds (`make golden` rewrites it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden import REGENERATE, Case, cases, difference, stale, update


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_output_matches_the_golden_file(case: Case) -> None:
    diff = difference(case)
    if diff is not None:
        pytest.fail(
            f"`{case.command}` no longer prints what tests/golden/{case.name} holds:\n{diff}\n"
            f"If the new output is right, run `{REGENERATE}` and review the change with git diff.",
            pytrace=False,
        )


def test_every_example_tenant_and_broken_fixture_has_a_golden_file() -> None:
    names = {case.name for case in cases()}
    assert {"render/acme.yaml", "render/bakery.yaml", "validate/tenants.txt", "validate/catalog.txt"} <= names
    assert stale() == [], f"golden files without a case: remove them with `{REGENERATE}`"


def test_update_writes_the_checked_in_files_and_removes_stale_ones(tmp_path: Path) -> None:
    (tmp_path / "render").mkdir()
    (tmp_path / "render" / "gone.yaml").write_text("a tenant that no longer exists\n")
    changed = update(tmp_path)
    assert "removed render/gone.yaml" in changed
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(case.name for case in cases())
    assert all(difference(case, tmp_path) is None for case in cases())
    assert update(tmp_path) == []  # a second run changes nothing
