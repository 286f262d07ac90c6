"""The shipped alert rules: promtool checks and unit-tests them, and they agree with what the
operator exports (names, labels, the thresholds' units) and with the runbooks.

promtool comes from Debian's `prometheus` package, which `make tools` installs; it is required,
not skipped, as PostgreSQL is for the database tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from landlord.metrics import TenantSample, TenantSeries, tenant_families

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts" / "landlord-rules.yaml"
RULE_TESTS = ROOT / "tests" / "alerts" / "landlord-rules.test.yaml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
ALERTS = {
    "TenantUsageNearLimit",
    "TenantOverLimit",
    "TenantProvisioningFailed",
    "TenantCertificateExpiringSoon",
    "TenantBackupMissing",
    "LandlordOperatorDown",
    "LandlordBillingRunFailed",
}
GI = 2**30


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: `make tools` installs it (Debian package prometheus)"
    return found


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_checks_the_rules() -> None:
    result = run_promtool("check", "rules", str(RULES.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = run_promtool("test", "rules", str(RULE_TESTS.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_names_are_the_contract_and_each_has_its_annotations_and_runbook() -> None:
    found = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert set(found) == ALERTS
    headings = re.findall(r"^## (\w+)$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    for name, rule in found.items():
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(annotations), name
        assert "$labels.tenant" in annotations["description"] or name.startswith("Landlord"), name
        assert annotations["runbook_url"] == f"docs/runbooks.md#{name.lower()}", name
        assert name in headings, f"docs/runbooks.md has no section '## {name}'"
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), name


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases = [case for group in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in group["alert_rule_test"]]
    for name in ALERTS:
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case.get("exp_alerts") for case in mine), f"{name} is never shown firing"
        assert any(not case.get("exp_alerts") for case in mine), f"{name} is never shown not firing"


def test_the_metrics_the_rules_read_are_exported_or_documented() -> None:
    """A rule reading a metric nobody exports would never fire: each is the operator's, or is
    documented in the runbooks with the component that will export it."""
    text = RULES.read_text()
    used = set(re.findall(r"\blandlord_[a-z_]+", text))
    exported = {family.name for family in tenant_families({"t": TenantSample("p", "", "Active")})}
    runbooks = RUNBOOKS.read_text()
    for name in sorted(used):
        assert name in exported or f"`{name}" in runbooks, f"{name}: neither exported nor documented"


# -- the exporter and the rules together --------------------------------------------------------------
class _Exporter(Collector):
    """The per-tenant families, with one component meter (the database size)."""

    def __init__(self, series: TenantSeries, meters: dict[tuple[str, str], float]) -> None:
        self.series, self.meters = series, meters

    def usage(self) -> dict[tuple[str, str], float]:
        return self.meters

    def collect(self) -> Iterator[Any]:
        return tenant_families(self.series.snapshot(), [self])


def input_series(text: str) -> list[dict[str, str]]:
    """The scraped exposition as promtool input, with the labels a scrape adds; a label with an
    empty value is dropped, as Prometheus does on ingestion."""
    found = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {"job": "landlord", "instance": "op:8081", **{k: v for k, v in sample.labels.items() if v}}
            selector = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
            found.append({"series": f"{sample.name}{{{selector}}}", "values": f"{sample.value!r}x20"})
    return found


def test_what_the_operator_exports_makes_the_rules_fire(tmp_path: Path) -> None:
    series = TenantSeries()
    series.record(
        "acme",
        TenantSample(
            plan="professional",
            reseller="",
            phase="Active",
            policy="Notify",
            limits={"memory": 8.0 * GI, "cpu": 4.0, "users": 10.0, "databaseStorage": 10.0 * GI},
            usage={"memory": 7.6 * GI, "cpu": 5.0, "users": 12.0},  # 95 %, 125 %, 120 %
            thresholds=(80, 90, 100),
            billed=frozenset({"users"}),  # seats beyond the included ones are charged, not overuse
        ),
    )
    bigco = TenantSample("enterprise", "agency", "Active", "Bill", {"cpu": 4.0}, {"cpu": 6.0}, thresholds=(90,))
    series.record("bigco", bigco)
    series.record("broken", TenantSample(plan="starter", reseller="", phase="Failed"))
    series.record("leaving", TenantSample(plan="starter", reseller="", phase="Terminating", metered=False))
    registry = CollectorRegistry()
    registry.register(_Exporter(series, {("acme", "databaseStorage"): 9.5 * GI, ("leaving", "databaseStorage"): 1e12}))
    scraped = input_series(generate_latest(registry).decode())
    scraped.append({"series": 'up{job="landlord",instance="op:8081"}', "values": "1x20"})
    firing = [
        ("TenantUsageNearLimit", "acme", "memory", "80"),
        ("TenantUsageNearLimit", "acme", "memory", "90"),
        ("TenantUsageNearLimit", "acme", "cpu", "80"),
        ("TenantUsageNearLimit", "acme", "cpu", "90"),
        ("TenantUsageNearLimit", "acme", "cpu", "100"),
        ("TenantUsageNearLimit", "acme", "users", "80"),
        ("TenantUsageNearLimit", "acme", "users", "90"),
        ("TenantUsageNearLimit", "acme", "users", "100"),
        ("TenantUsageNearLimit", "acme", "databaseStorage", "80"),
        ("TenantUsageNearLimit", "acme", "databaseStorage", "90"),
        ("TenantUsageNearLimit", "bigco", "cpu", "90"),
        ("TenantOverLimit", "acme", "cpu", ""),  # not acme's users, not bigco's cpu: charged
        ("TenantProvisioningFailed", "broken", "", ""),
    ]
    expected = []
    for alert, tenant, resource, percent in firing:
        labels = {"alertname": alert, "tenant": tenant, "resource": resource, "percent": percent}
        selector = ",".join(f'{k}="{v}"' for k, v in labels.items() if v)
        expected.append({"labels": f"{{{selector}}}", "value": 1})
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": scraped,
                "promql_expr_test": [
                    {
                        "expr": 'count by (alertname, tenant, resource, percent) (ALERTS{alertstate="firing"})',
                        "eval_time": "16m",
                        "exp_samples": expected,
                    }
                ],
            }
        ],
    }
    path = tmp_path / "exported.test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = run_promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_each_runbook_section_says_what_it_means_what_to_check_and_how_to_fix(name: str) -> None:
    text = RUNBOOKS.read_text()
    section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
    for part in ("**Meaning.**", "**Checks.**", "**Fixes.**"):
        assert part in section, f"{name}: no {part}"
