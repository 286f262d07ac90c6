"""`landlord invoice preview`, end to end with files: JSON, the table, and bad input as one line each."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from landlord.cli import main
from landlord.config import ConfigError, parse

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ["--catalog", str(ROOT / "plans"), "--catalog", str(ROOT / "addons")]
EXAMPLE_CONFIG = str(ROOT / "examples" / "billing" / "config.yaml")
EXAMPLE_USAGE = str(ROOT / "examples" / "billing" / "usage.yaml")

TENANT = """\
apiVersion: landlord.dev/v1alpha1
kind: Tenant
metadata:
  name: bistro
  creationTimestamp: "2025-01-20T12:00:00Z"
spec:
  plan: professional
  addOns:
    - {name: extra-users-5, quantity: 2}
  billing: {cycle: Monthly, country: FR, taxId: FR40303265045, customerType: Business, coupon: WELCOME10}
status:
  planHistory:
    - {plan: starter, since: "2025-01-20T12:00:05Z"}
    - {plan: professional, since: "2025-06-10T09:30:00Z"}
  trialEndsAt: "2025-02-03T12:00:00Z"
"""
USAGE = """\
meters:
  traffic: 130Gi
seats:
  total: 23
"""
CONFIG = """\
billing:
  seller: {name: Example Hosting SAS, country: FR, taxId: FR40303265045, address: "1 rue de l'Exemple, Paris"}
  taxRates: {FR: "20", DE: "19"}
  coupons: {WELCOME10: {percent: "10"}, FIVEOFF: {amount: "5.00"}}
"""


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return {
        "tenant": write(tmp_path, "tenant.yaml", TENANT),
        "usage": write(tmp_path, "usage.yaml", USAGE),
        "config": write(tmp_path, "config.yaml", CONFIG),
    }


def preview(files: dict[str, str], *extra: str, period: str = "2025-06") -> list[str]:
    return [
        "invoice",
        "preview",
        "--tenant",
        files["tenant"],
        *CATALOG,
        "--period",
        period,
        "--usage",
        files["usage"],
        "--config",
        files["config"],
        *extra,
    ]


def test_json_is_the_invoice_with_money_as_strings(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(preview(files, "--output", "json")) == 0
    shown = json.loads(capsys.readouterr().out)
    # June 2025 (30 days): starter 1-9 June, professional from the 10th; 2 x "+5 users" all month.
    #   Starter 19.00 x 9/30 = 5.70; Professional 49.00 x 21/30 = 34.30; +5 users 2 x 20.00 = 40.00
    #   seats: included 10 + 2 x 5 = 20, peak 23: 3 x 5.00 = 15.00 (Notify: no traffic overage)
    #   subtotal 95.00; WELCOME10 10 % = 9.50 -> 85.50; FR 20 % = 17.10; total 102.60
    assert shown == {
        "billTo": "bistro",
        "currency": "EUR",
        "period": "2025-06",
        "lines": [
            {
                "description": "Starter plan, 1 Jun to 9 Jun 2025 (9/30 days)",
                "quantity": "1",
                "unitPrice": "19.00",
                "amount": "5.70",
            },
            {
                "description": "Professional plan, 10 Jun to 30 Jun 2025 (21/30 days)",
                "quantity": "1",
                "unitPrice": "49.00",
                "amount": "34.30",
            },
            {"description": "+5 users, Jun 2025", "quantity": "2", "unitPrice": "20.00", "amount": "40.00"},
            {"description": "Seats beyond the 20 included", "quantity": "3", "unitPrice": "5.00", "amount": "15.00"},
        ],
        "subtotal": "95.00",
        "discounts": [{"description": "Coupon WELCOME10 (10 %)", "amount": "9.50"}],
        "taxable": "85.50",
        "taxRate": "20",
        "tax": "17.10",
        "total": "102.60",
        "notes": [],
    }


def test_the_trial_month_shows_the_trial(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(preview(files, "--output", "json", period="2025-02")) == 0
    shown = json.loads(capsys.readouterr().out)
    # February: trial until the 2nd, 26 of 28 days on starter: 19.00 x 26/28 = 17.642... -> 17.64;
    # +5 users 2 x 20.00 x 26/28 = 37.142... -> 37.14; seats (starter: 3 included + 10) 23 - 13 = 10 x 4.00 = 40.00
    assert [line["amount"] for line in shown["lines"]] == ["17.64", "37.14", "40.00"]
    assert shown["notes"] == ["Free trial: 1 Feb to 2 Feb 2025 (2 days), not charged"]


def test_table_is_readable(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(preview(files)) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "Invoice preview: bistro, period 2025-06 (Monthly: 1 Jun 2025 to 30 Jun 2025), EUR"
    assert lines[1] == "Seller:  Example Hosting SAS, FR, VAT FR40303265045"
    assert lines[2] == "Bill to: bistro, FR, VAT FR40303265045 (Business)"
    assert lines[4].split() == ["Description", "Quantity", "Unit", "price", "Amount"]
    assert any(
        line.startswith("Starter plan, 1 Jun to 9 Jun 2025 (9/30 days)") and line.endswith("5.70") for line in lines
    )
    assert any(line.startswith("Coupon WELCOME10 (10 %)") and line.endswith("-9.50") for line in lines)
    assert [line.split()[-2:] for line in lines if line.strip().startswith(("Subtotal", "Taxable", "Total"))] == [
        ["Subtotal", "95.00"],
        ["Taxable", "85.50"],
        ["Total", "102.60"],
    ]
    assert any(line.split()[-3:] == ["(20", "%)", "17.10"] for line in lines)
    assert "  - Payment due 30 days after the invoice date" in lines
    # The amounts line up in one column.
    ends = {len(line) for line in lines[4:] if line.rstrip().endswith(("5.70", "34.30", "95.00", "102.60"))}
    assert len(ends) == 1


def test_the_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["invoice", "preview", "--tenant", str(ROOT / "examples" / "direct-tenant.yaml"), *CATALOG]
    args += ["--period", "2025", "--usage", EXAMPLE_USAGE, "--config", EXAMPLE_CONFIG, "--output", "json"]
    assert main(args) == 0
    shown = json.loads(capsys.readouterr().out)
    # acme, Yearly, 2025: Professional 490.00 + 2 x "+5 users" 200.00 + Priority support 290.00 = 1180.00;
    # seats: 20 included, peak 23 in total: 3 x 5.00 = 15.00; subtotal 1195.00; WELCOME10: 119.50 -> 1075.50;
    # FR business with FR VAT id: 20 % = 215.10; total 1290.60
    assert (shown["subtotal"], shown["taxable"], shown["tax"], shown["total"]) == (
        "1195.00",
        "1075.50",
        "215.10",
        "1290.60",
    )


def test_a_reseller_file_needs_a_name_and_bills_the_reseller(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["invoice", "preview", "--tenant", str(ROOT / "examples" / "reseller-webagency.yaml"), *CATALOG]
    base += ["--period", "2025-03", "--config", EXAMPLE_CONFIG]
    assert main(base) == 1
    assert capsys.readouterr().err.endswith("2 Tenants (bakery, florist); choose one with --name NAME\n")
    assert main([*base, "--name", "florist", "--output", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["billTo"] == "webagency"
    assert [d["description"] for d in shown["discounts"]] == ["Reseller discount (20 %)"]
    assert "Services of tenant florist, billed to reseller webagency" in shown["notes"]


def error_lines(capsys: pytest.CaptureFixture[str], args: list[str]) -> list[str]:
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


def test_bad_inputs_are_one_line_each_at_their_line(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = Path(files["tenant"])
    tenant.write_text(TENANT.replace("coupon: WELCOME10", "coupon: NOPE"))
    usage = Path(files["usage"])
    usage.write_text("meters:\n  trafic: 130Gi\nseats:\n  total: -1\n")
    assert error_lines(capsys, preview(files)) == [
        f"{tenant}:10: Tenant/bistro: spec.billing.coupon: coupon 'NOPE' is not in the configuration's "
        "billing.coupons (FIVEOFF, WELCOME10); fix the code or add the coupon",
        f"{usage}:2: meters.trafic: unknown meter 'trafic'; meters are traffic, storage, databaseStorage, users",
        f"{usage}:4: seats.total: -1 is not a number of seats; give a whole number of 0 or more",
    ]


def test_a_bad_configuration_points_at_the_key(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    config = Path(files["config"])
    config.write_text(CONFIG.replace('FR: "20"', "FR: 20.5").replace('{percent: "10"}', '{percent: "10", amount: "1"}'))
    assert main(preview(files)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{config}:3: billing.taxRates.FR: 20.5 is a number with a fraction; write the percent as a decimal string, "
        'e.g. "20"',
        f'{config}:4: billing.coupons.WELCOME10: give exactly one of percent (e.g. "10") or amount (e.g. "5.00")',
    ]
    config.write_text(CONFIG.replace("seller:", "sellr:"))
    assert main(preview(files)) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{config}:1: billing: Additional properties are not allowed ('sellr' was unexpected)")


def test_a_missing_tax_rate_names_the_configuration(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    Path(files["tenant"]).write_text(TENANT.replace("country: FR, taxId: FR40303265045", "country: IT"))
    assert error_lines(capsys, preview(files)) == [
        f'{files["config"]}:3: billing.taxRates: no rate for IT, needed to tax this customer; add it, e.g. IT: "20"'
    ]


def test_periods_and_catalogue_problems(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert error_lines(capsys, preview(files, period="2025")) == [
        "landlord invoice preview: --period 2025: '2025' is not a month such as 2025-06; the tenant is billed "
        "Monthly (a year is for tenants billed Yearly)"
    ]
    assert error_lines(capsys, preview(files, period="2024-12")) == [
        "landlord invoice preview: --period 2024-12: the tenant started on 2025-01-20, after this period; "
        "nothing to bill"
    ]
    args = preview(files)
    args[args.index(str(ROOT / "plans"))] = str(ROOT / "plans" / "professional.yaml")
    (line,) = error_lines(capsys, args)
    assert line.startswith(f"{files['tenant']}:13: Tenant/bistro: status.planHistory[0].plan: plan 'starter' is not")


def test_unreadable_files_and_schema_errors(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(files["usage"]).write_text("meters: [traffic\n")
    (line,) = error_lines(capsys, preview(files))
    assert line.startswith(f"{files['usage']}:") and "not valid YAML" in line
    Path(files["usage"]).write_text(USAGE)
    Path(files["tenant"]).write_text(TENANT.replace("country: FR,", "country: france,"))
    (line,) = error_lines(capsys, preview(files))
    assert line.startswith(f"{files['tenant']}:10: Tenant/bistro: spec.billing.country: ")
    missing = preview(files)
    missing[missing.index("--usage") + 1] = str(tmp_path / "nowhere.yaml")
    Path(files["tenant"]).write_text(TENANT)
    assert error_lines(capsys, missing) == [f"{tmp_path / 'nowhere.yaml'}: no such file or folder; check the path"]


def test_no_traceback_in_a_pipeline(files: dict[str, str]) -> None:
    Path(files["tenant"]).write_text("kind: Nothing\n")
    done = subprocess.run(
        [sys.executable, "-m", "landlord", *preview(files)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == f"{files['tenant']}: no Tenant found (apiVersion landlord.dev/v1alpha1, kind Tenant)\n"


def test_the_documented_example_is_the_real_output(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    docs = (ROOT / "docs" / "billing.md").read_text()
    start = docs.index("```\nInvoice preview: bistro") + len("```\n")
    documented = docs[start : docs.index("```", start)]
    assert main(preview(files)) == 0
    assert capsys.readouterr().out == documented


def test_an_unrecorded_plan_change_is_a_warning(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    Path(files["tenant"]).write_text(TENANT.replace("plan: professional\n", "plan: enterprise\n"))
    assert main(preview(files, "--output", "json")) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["total"] == "102.60"  # the history still says professional
    assert captured.err == (
        f"{files['tenant']}:7: Tenant/bistro: warning: spec.plan: is 'enterprise' but status.planHistory ends with "
        "'professional': the change is not recorded yet, so the preview follows the history\n"
    )


def test_the_billing_section_is_typed_and_its_errors_name_the_key() -> None:
    billing = parse(yaml.safe_load(Path(EXAMPLE_CONFIG).read_text())).billing
    assert billing.seller.country == "FR" and billing.due_days == 30 and not billing.anniversary
    assert billing.tax_rates["FR"] == Decimal("20")
    assert billing.coupons["FIVEOFF"].amount == Decimal("5.00") and billing.coupons["FIVEOFF"].currency == "EUR"
    assert parse({"billing": {"sellerCountry": "DE"}}).billing.seller.country == "DE"  # the former key
    with pytest.raises(ConfigError) as caught:
        parse(
            {
                "billing": {
                    "seller": {"country": "fr"},
                    "taxRates": {"fr": "20", "DE": "119", "IT": True},
                    "coupons": {"welcome": {"percent": "10"}, "BIG": {"amount": "-1", "currency": "euro"}},
                    "dueDays": -1,
                }
            },
            "c.yaml",
        )
    assert caught.value.fields == (("billing.dueDays", "-1 is less than the minimum of 0"),)
    with pytest.raises(ConfigError) as caught:
        parse(
            {
                "billing": {
                    "seller": {"country": "fr"},
                    "sellerCountry": "DE",
                    "taxRates": {"fr": "20", "DE": "119", "IT": True},
                    "coupons": {"welcome": {"percent": "10"}, "BIG": {"amount": "-1", "currency": "euro"}},
                }
            },
            "c.yaml",
        )
    assert [key for key, _ in caught.value.fields] == [
        "billing.seller.country",
        "billing.sellerCountry",
        "billing.taxRates.fr",
        "billing.taxRates.DE",
        "billing.taxRates.IT",
        "billing.coupons.welcome",
        "billing.coupons.BIG.amount",
        "billing.coupons.BIG.currency",
    ]
    assert (
        str(caught.value).splitlines()[3]
        == "c.yaml: billing.taxRates.DE: 119 is more than 100; give a percent between 0 and 100"
    )
    assert (
        str(caught.value).splitlines()[6]
        == "c.yaml: billing.coupons.BIG.amount: '-1' is not a decimal amount; write it like \"5.00\""
    )
