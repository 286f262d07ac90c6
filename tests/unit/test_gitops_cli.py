"""`landlord validate`, `landlord render` and `landlord crds`, offline."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from landlord.api.schemas import all_crds
from landlord.cli import crd_text, main
from landlord.documents import load

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def test_catalogue_and_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "plans"), str(ROOT / "addons"), str(ROOT / "examples")]) == 0
    assert capsys.readouterr().out == ""


def test_broken_documents_get_one_precise_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    broken = ROOT / "tests" / "fixtures" / "broken"
    assert main(["validate", str(broken)]) == 1
    lines = [line.replace(str(broken) + "/", "") for line in capsys.readouterr().out.splitlines()]
    expected_starts = [
        "catalog.yaml:7: Plan/small: spec.limits.cpu: ",
        "catalog.yaml:10: Plan/small: spec.pricing.currency: ",
        "catalog.yaml:11: Plan/small: spec.pricing.prices[Monthly]: ",
        "catalog.yaml:12: Plan/small: spec.upgradesTo[0]: plan 'huge' is not defined",
        "tenants.yaml:8: Tenant/one: spec.addOns[0].name: add-on 'dollars' is priced in USD",
        "tenants.yaml:9: Tenant/one: spec.addOns[0].quantity: 3 is more than add-on 'dollars' allows",
        "tenants.yaml:10: Tenant/one: spec.addOns[1].name: add-on 'nothere' is not defined",
        "tenants.yaml:11: Tenant/one: spec.reseller: reseller 'ghost' is not defined",
        'tenants.yaml:12: Tenant/one: spec.syncPolicy: Unsupported value: "Sometimes"',
        "tenants.yaml:20: Tenant/two: warning: spec.plan: plan 'old' is retired",
        "tenants.yaml:21: Tenant/two: spec.domains.custom[0]: custom domain 'shop.example.com' already belongs to "
        "Tenant/one",
        "tenants.yaml:22: Tenant/two: spec.colour: unknown field; remove it",
        "tenants.yaml:27: Tenant/Three_Bad: metadata.name: the tenant name must be a DNS label",
        "tenants.yaml:29: Tenant/Three_Bad: spec.plan: plan 'missing' is not defined",
        "tenants.yaml:37: Tenant/four: spec.domains.subdomain: subdomain 'one' is already used by Tenant/two",
    ]
    assert len(lines) == len(expected_starts), "\n".join(lines)
    for line, start in zip(lines, expected_starts, strict=True):
        assert line.startswith(start), f"{line!r} should start with {start!r}"
        assert "; " in line  # every line says how to fix it


def test_validate_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--output", "json", str(ROOT / "tests" / "fixtures" / "broken")]) == 1
    problems = json.loads(capsys.readouterr().out)
    assert {p["severity"] for p in problems} == {"error", "warning"}
    assert all(set(p) == {"path", "line", "kind", "name", "field", "message", "severity"} for p in problems)


def test_validate_only_warnings_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "docs.yaml").write_text(
        "apiVersion: landlord.dev/v1alpha1\nkind: Plan\nmetadata: {name: old}\n"
        "spec: {retired: true, pricing: {currency: EUR, prices: {Monthly: '1.00'}}}\n---\n"
        "apiVersion: landlord.dev/v1alpha1\nkind: Tenant\nmetadata: {name: t}\nspec: {plan: old}\n"
    )
    assert main(["validate", str(tmp_path)]) == 0
    assert "warning" in capsys.readouterr().out


def test_validate_reports_bad_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("kind: Tenant\nspec: [unclosed\n")
    assert main(["validate", str(tmp_path)]) == 1
    assert "not valid YAML" in capsys.readouterr().err


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_rendered_objects_pass_kubernetes_schemas(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenants = [d for d in load([example]) if d.kind == "Tenant"]
    catalog = ["--catalog", str(ROOT / "plans"), "--catalog", str(ROOT / "addons"), "--catalog", str(ROOT / "examples")]
    for tenant in tenants:
        single = Path(capsys_tmp(tenant.body))
        assert main(["render", str(single), *catalog]) == 0
        objects = list(yaml.safe_load_all(capsys.readouterr().out))
        kinds = [o["kind"] for o in objects]
        assert kinds == sorted(kinds), "output is sorted by kind"
        assert {"Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "ConfigMap"} <= set(kinds)
        for obj in objects:
            kubernetes_validate.validate(obj, "1.30", strict=True)


def capsys_tmp(body: dict[str, object]) -> str:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(body, handle)
    return handle.name


def test_render_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "render",
        str(ROOT / "examples" / "direct-tenant.yaml"),
        "--catalog",
        str(ROOT / "plans"),
        "--catalog",
        str(ROOT / "addons"),
    ]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first
    assert "t-acme" in first and "requests.cpu: '4'" in first


def test_render_refuses_what_the_operator_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(ROOT / "examples" / "direct-tenant.yaml"), "--catalog", str(ROOT / "addons")]) == 1
    assert "PlanNotFound" in capsys.readouterr().err


def test_crds_folder_is_generated_from_the_schemas() -> None:
    for crd in all_crds():
        path = ROOT / "crds" / f"{crd['metadata']['name']}.yaml"
        assert path.read_text() == crd_text(crd), f"{path} is stale: run `landlord crds --output crds/`"


def test_every_schema_field_has_a_description() -> None:
    missing: list[str] = []

    def walk(schema: dict[str, object], path: str) -> None:
        if not schema.get("description") and path.count(".") > 1 and not path.endswith("]"):
            missing.append(path)
        for name, sub in (schema.get("properties") or {}).items():
            walk(sub, f"{path}.{name}")

    for crd in all_crds():
        root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for section in ("spec", "status"):
            walk(root["properties"][section], f"{crd['spec']['names']['kind']}.{section}")
    assert missing == []
