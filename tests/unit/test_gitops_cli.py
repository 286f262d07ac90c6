"""`landlord validate`, `landlord render` and `landlord crds`, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from landlord.api.schemas import all_crds
from landlord.cli import crd_text, main
from landlord.documents import load

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
CATALOG = ["--catalog", str(ROOT / "plans"), "--catalog", str(ROOT / "addons")]
PLAN = (
    "apiVersion: landlord.dev/v1alpha1\nkind: Plan\nmetadata: {name: basic}\n"
    "spec: {limits: {cpu: '1'}, pricing: {currency: EUR, prices: {Monthly: '1.00'}}}\n"
)


def tenant_yaml(name: str, plan: str = "basic") -> str:
    return (
        f"apiVersion: landlord.dev/v1alpha1\nkind: Tenant\nmetadata: {{name: {name}}}\n"
        f"spec: {{plan: {plan}, owner: {{name: X, email: x@example.com}}}}\n"
    )


def landlord(*args: str) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, as a pipeline runs it (a traceback would show on stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "landlord", *args], capture_output=True, text=True, timeout=60, check=False
    )


def tenants_of(stream: str) -> list[str]:
    """The tenant of each object, in the order printed."""
    return [o["metadata"]["labels"]["landlord.dev/tenant"] for o in yaml.safe_load_all(stream)]


def test_catalogue_and_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "plans"), str(ROOT / "addons"), str(ROOT / "examples")]) == 0
    assert capsys.readouterr().out == ""


def test_broken_documents_get_one_precise_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    broken = ROOT / "tests" / "fixtures" / "broken"
    assert main(["validate", str(broken)]) == 1
    lines = [line.replace(str(broken) + "/", "") for line in capsys.readouterr().out.splitlines()]
    # Where each problem is and what it is about; the exact wording is pinned by tests/golden/validate/.
    expected_starts = [
        "catalog.yaml:7: Plan/small: spec.limits.cpu: ",
        "catalog.yaml:10: Plan/small: spec.pricing.currency: ",
        "catalog.yaml:11: Plan/small: spec.pricing.prices[Monthly]: ",
        "catalog.yaml:12: Plan/small: spec.upgradesTo[0]: plan 'huge' ",
        "tenants.yaml:8: Tenant/one: spec.addOns[0].name: add-on 'dollars' is priced in USD",
        "tenants.yaml:9: Tenant/one: spec.addOns[0].quantity: 3 is more than add-on 'dollars' allows",
        "tenants.yaml:10: Tenant/one: spec.addOns[1].name: add-on 'nothere' ",
        "tenants.yaml:11: Tenant/one: spec.reseller: reseller 'ghost' ",
        'tenants.yaml:12: Tenant/one: spec.syncPolicy: Unsupported value: "Sometimes"',
        "tenants.yaml:20: Tenant/two: warning: spec.plan: plan 'old' is retired",
        "tenants.yaml:21: Tenant/two: spec.domains.custom[0]: custom domain 'shop.example.com' already belongs to "
        "Tenant/one",
        "tenants.yaml:22: Tenant/two: spec.colour: unknown field; remove it",
        "tenants.yaml:27: Tenant/Three_Bad: metadata.name: the tenant name must be a DNS label",
        "tenants.yaml:29: Tenant/Three_Bad: spec.plan: plan 'missing' ",
        "tenants.yaml:37: Tenant/four: spec.domains.subdomain: subdomain 'one' (host one.apps.example.com) is "
        "already used by Tenant/two",
        "tenants.yaml:44: Tenant/five: warning: spec.plan: plan 'old' is retired",
        "tenants.yaml:46: Tenant/five: spec.domains.custom: 2 custom domains, but the effective customDomains limit "
        "is 1",
        "tenants.yaml:47: Tenant/five: spec.domains.custom[0]: custom domain 'crm.apps.example.com' is under "
        "apps.example.com (the operator's base domain)",
        "tenants.yaml:48: Tenant/five: spec.domains.custom[1]: custom domain '*.example.com' overlaps "
        "'shop.example.com' of Tenant/one",
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


# A bad input, the line it is reported at, and words of the report.
BAD_INPUTS = {
    "not-utf8": (b"apiVersion: v1\nkind: ConfigMap\ndata: {a: caf\xe9}\n", 3, "not UTF-8 text (byte 0xe9"),
    "a-list": (b"apiVersion: v1\n---\n- one\n- two\n", 3, "the document is a list, not a mapping"),
    "a-scalar": (b"just some words\n", 1, "the document is a string ('just some words'), not a mapping"),
    "a-number": (b"---\n42\n", 2, "the document is a number (42), not a mapping"),
    "invalid-yaml": (b"kind: Tenant\nspec: [unclosed\n", 2, "not valid YAML: while parsing a flow sequence"),
    "bad-indentation": (b"kind: Tenant\nspec:\n  plan: x\n bad: y\n", 4, "not valid YAML"),
    "control-character": (b"kind: Tenant\x01\n", 1, "not valid YAML: the character U+0001"),
    "python-tag": (b"kind: !!python/object:os.system x\n", 1, "could not determine a constructor"),
    "metadata-list": (
        b"apiVersion: landlord.dev/v1alpha1\nkind: Plan\nmetadata: [small]\n",
        3,
        "Plan/?: metadata: must be a mapping, not a list",
    ),
}
BROKEN_TENANT = tenant_yaml("neighbour", plan="nowhere")


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_validate_reports_a_bad_file_in_one_line_and_checks_the_others(tmp_path: Path, case: str) -> None:
    content, line, words = BAD_INPUTS[case]
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    other = tmp_path / "other.yaml"
    other.write_text(BROKEN_TENANT)
    result = landlord("validate", str(bad), str(other))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1
    [reported, neighbour] = result.stdout.splitlines()
    assert reported.startswith(f"{bad}:{line}: "), reported
    assert words in reported and "; " in reported, reported  # says how to fix it
    assert neighbour.startswith(f"{other}:4: Tenant/neighbour: spec.plan: "), neighbour
    as_json = landlord("validate", "--output", "json", str(bad), str(other))
    assert "Traceback" not in as_json.stderr and as_json.returncode == 1
    problems = json.loads(as_json.stdout)
    assert [(p["path"], p["line"], p["severity"]) for p in problems] == [
        (str(bad), line, "error"),
        (str(other), 4, "error"),
    ]
    assert words.split(": ")[-1] in problems[0]["message"]


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_render_reports_a_bad_file_in_one_line_and_renders_the_others(tmp_path: Path, case: str) -> None:
    content, line, _ = BAD_INPUTS[case]
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    good = tmp_path / "good.yaml"
    good.write_text(PLAN + "---\n" + tenant_yaml("fine"))
    result = landlord("render", str(bad), str(good))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1
    [reported] = result.stderr.splitlines()
    assert reported.startswith(f"{bad}:{line}: "), reported
    assert set(tenants_of(result.stdout)) == {"fine"}


def test_validate_missing_path_is_one_line(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(BROKEN_TENANT)
    result = landlord("validate", str(tmp_path / "nothere.yaml"), str(other))
    assert "Traceback" not in result.stderr and result.returncode == 1
    assert result.stdout.splitlines()[0] == f"{tmp_path / 'nothere.yaml'}: no such file or folder; check the path"


def test_validate_survives_fields_of_the_wrong_type(tmp_path: Path) -> None:
    (tmp_path / "odd.yaml").write_text(
        "apiVersion: landlord.dev/v1alpha1\nkind: Tenant\nmetadata: {name: odd}\nspec: [plan]\n---\n"
        "apiVersion: landlord.dev/v1alpha1\nkind: Tenant\nmetadata: {name: odder}\n"
        "spec: {plan: p, domains: [a], addOns: text}\n---\n"
        "apiVersion: landlord.dev/v1alpha1\nkind: AddOn\nmetadata: {name: a}\nspec: {plans: 5}\n"
    )
    result = landlord("validate", str(tmp_path))
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stdout + result.stderr
    assert result.returncode == 1
    assert f"{tmp_path / 'odd.yaml'}:4: Tenant/odd: spec: must be a mapping, not a list" in result.stdout
    assert "Tenant/odder: spec.domains" in result.stdout and "AddOn/a: spec.plans" in result.stdout


def test_the_same_file_given_twice_is_read_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plans").mkdir()
    plan = tmp_path / "plans" / "basic.yaml"
    plan.write_text(PLAN)
    # Twice the same path, a file and its folder, the folder by another spelling: one Plan.
    paths = [str(plan), str(plan), str(tmp_path / "plans"), str(tmp_path / "plans" / ".." / "plans")]
    assert main(["validate", *paths]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("1 landlord.dev documents checked: 0 errors")
    assert main(["render", str(plan), str(tmp_path), "--catalog", str(plan)]) == 1  # no tenant, but no "twice"
    assert "defined twice" not in capsys.readouterr().err


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_rendered_objects_pass_kubernetes_schemas(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenants = [d for d in load([example]) if d.kind == "Tenant"]
    for tenant in tenants:
        assert main(["render", str(example), "--tenant", tenant.name, *CATALOG]) == 0
        objects = list(yaml.safe_load_all(capsys.readouterr().out))
        kinds = [o["kind"] for o in objects]
        assert kinds == sorted(kinds), "output is sorted by kind"
        assert {"Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "ConfigMap"} <= set(kinds)
        for obj in objects:
            kubernetes_validate.validate(obj, "1.30", strict=True)


def test_render_a_folder_prints_every_tenant_in_name_order(capsys: pytest.CaptureFixture[str]) -> None:
    # examples/ holds the reseller too: documents next to the tenants are catalogue as well.
    assert main(["render", str(ROOT / "examples"), *CATALOG, "--now", "2025-01-01T00:00:00Z"]) == 0
    captured = capsys.readouterr()
    order = tenants_of(captured.out)
    names = ["acme", "bakery", "florist", "goodcause", "latepayer", "newco", "shopco"]
    assert list(dict.fromkeys(order)) == names and order == sorted(order)
    assert captured.err == ""


def test_render_one_tenant_of_a_multi_document_file(capsys: pytest.CaptureFixture[str]) -> None:
    file = ROOT / "examples" / "reseller-webagency.yaml"
    assert main(["render", str(file), "--tenant", "florist", *CATALOG]) == 0
    out = capsys.readouterr().out
    assert set(tenants_of(out)) == {"florist"}
    assert "flowers.apps.webagency.example" in out  # the reseller in the same file gave its base domain


def test_render_unknown_tenant_lists_the_tenants_found(capsys: pytest.CaptureFixture[str]) -> None:
    file = ROOT / "examples" / "reseller-webagency.yaml"
    assert main(["render", str(file), "--tenant", "nobody", *CATALOG]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == f"{file}: no Tenant named 'nobody'; the tenants found: bakery, florist"


def test_render_everything_in_one_file_needs_no_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "all.yaml"
    file.write_text(tenant_yaml("zeta") + "---\n" + PLAN + "---\n" + tenant_yaml("alpha"))
    assert main(["render", str(file)]) == 0
    captured = capsys.readouterr()
    assert list(dict.fromkeys(tenants_of(captured.out))) == ["alpha", "zeta"]
    assert "requests.cpu: '1'" in captured.out and captured.err == ""


def test_render_reports_a_refused_tenant_and_prints_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "tenants.yaml"
    file.write_text(PLAN + "---\n" + tenant_yaml("good") + "---\n" + tenant_yaml("lost", plan="gone"))
    assert main(["render", str(file)]) == 1
    captured = capsys.readouterr()
    assert set(tenants_of(captured.out)) == {"good"}
    [line] = captured.err.splitlines()
    assert line.startswith(f"{file}:11: Tenant/lost: Pending (PlanNotFound): "), line
    assert "'gone'" in line


def test_render_as_of_a_given_time(capsys: pytest.CaptureFixture[str]) -> None:
    # goodcause expires at the end of 2030: suspended in 2031, not in 2025.
    args = ["render", str(ROOT / "examples" / "locked-tenant.yaml"), *CATALOG]
    assert main([*args, "--now", "2025-01-01T00:00:00Z"]) == 0
    assert "suspended: 'false'" in capsys.readouterr().out
    assert main([*args, "--now", "2031-01-01T00:00:00Z"]) == 0
    assert "suspended: 'true'" in capsys.readouterr().out


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


ISOLATION = """\
apiVersion: landlord.dev/v1alpha1
kind: Plan
metadata: {name: basic}
spec: {limits: {cpu: '1', customDomains: 1}, pricing: {currency: EUR, prices: {Monthly: '1.00'}}}
---
apiVersion: landlord.dev/v1alpha1
kind: Reseller
metadata: {name: agency}
spec: {baseDomain: apps.example.com}
---
apiVersion: landlord.dev/v1alpha1
kind: Tenant
metadata: {name: first}
spec: {plan: basic, domains: {subdomain: shop}}
---
apiVersion: landlord.dev/v1alpha1
kind: Tenant
metadata: {name: same-host}
spec: {plan: basic, reseller: agency, domains: {subdomain: shop}}
---
apiVersion: landlord.dev/v1alpha1
kind: Tenant
metadata: {name: squatter}
spec: {plan: basic, domains: {custom: [first.apps.example.com]}}
---
apiVersion: landlord.dev/v1alpha1
kind: Tenant
metadata: {name: greedy}
spec: {plan: basic, domains: {custom: [a.example.org, b.example.org]}}
---
apiVersion: landlord.dev/v1alpha1
kind: Tenant
metadata: {name: a-name-that-fits-t-but-not-the-longer-prefix-customers}
spec: {plan: basic}
"""


def test_validate_and_render_refuse_hosts_domains_and_names_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(ISOLATION)
    config = tmp_path / "landlord.yaml"
    config.write_text("namespacePrefix: customers-\n")  # 10 characters: names up to 53
    assert main(["validate", "--config", str(config), str(path)]) == 1
    validated = {line.split(": ")[1]: line.split(": ", 3)[3] for line in capsys.readouterr().out.splitlines()}
    assert set(validated) == {
        "Tenant/same-host",
        "Tenant/squatter",
        "Tenant/greedy",
        "Tenant/a-name-that-fits-t-but-not-the-longer-prefix-customers",
    }
    assert "at most 53 characters" in validated["Tenant/a-name-that-fits-t-but-not-the-longer-prefix-customers"]
    for name, message in validated.items():
        assert main(["render", "--config", str(config), str(path), "--tenant", name.removeprefix("Tenant/")]) == 1
        assert capsys.readouterr().err.rstrip("\n").endswith(message), name
    assert main(["validate", str(path)]) == 1  # the default prefix, t-: the long name fits
    assert "a-name-that-fits" not in capsys.readouterr().out


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


def test_validate_reports_an_unserved_version_or_a_missing_name_once_and_plainly(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        "apiVersion: landlord.dev/v1\nkind: Tenant\nmetadata: {name: old}\nspec: {plan: x}\n---\n"
        "apiVersion: landlord.dev/v1alpha1\nkind: Tenant\nmetadata: {}\nspec: {plan: x}\n"
    )
    result = landlord("validate", str(tmp_path))
    lines = result.stdout.splitlines()
    assert lines == [
        f"{tmp_path / 't.yaml'}:1: Tenant/old: apiVersion: 'landlord.dev/v1' is not served; use landlord.dev/v1alpha1",
        f"{tmp_path / 't.yaml'}:8: Tenant/?: metadata.name: Required value; add a name",
    ]  # no "plan '' does not exist" for the unserved one, no CEL evaluation error for the nameless one
