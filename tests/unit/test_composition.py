"""Effective entitlements, plan sync and reseller allocation (pure)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from landlord.api.composition import AddOnUse, allocate, compose, entitlements, format_limit, parse_limits
from landlord.config import ConfigError, parse

PLAN = {"limits": {"cpu": "2", "memory": "4Gi", "storage": "10Gi", "users": 5}, "features": ["crm"]}


def test_plan_plus_addons_times_quantity() -> None:
    users = AddOnUse("users", 3, {"limits": {"users": 5}, "features": ["sso"]})
    storage = AddOnUse("storage", 2, {"limits": {"storage": "50Gi"}})
    result = compose(PLAN, [users, storage])
    assert result.limits["users"] == 20
    assert result.limits["storage"] == Decimal(110 * 2**30)
    assert result.limits["cpu"] == 2  # unset on the add-ons: nothing added
    assert result.limits["pods"] == 0  # omitted on the plan: not offered
    assert result.features == ["crm", "sso"]


def test_unlimited_absorbs() -> None:
    unlimited = AddOnUse("u", 1, {"limits": {"pods": "unlimited", "users": "unlimited"}})
    more = AddOnUse("m", 4, {"limits": {"users": 5}})
    result = compose(PLAN, [unlimited, more])
    assert result.limits["pods"] is None and result.limits["users"] is None
    assert format_limit("users", None) == "unlimited"


def test_overrides_pin_fields_and_customize() -> None:
    ent = entitlements({"plan": "p", "overrides": {"limits": {"storage": "80Gi"}}}, PLAN, [], None)
    assert format_limit("storage", ent.limits["storage"]) == "80Gi" and ent.state == "Customized"
    assert entitlements({"plan": "p"}, PLAN, [], None).state == "Synced"


def test_locked_keeps_the_snapshot_until_the_tenant_changes_itself() -> None:
    spec = {"plan": "p", "syncPolicy": "Locked"}
    first = entitlements(spec, PLAN, [], None)
    assert first.state == "Locked" and first.locked is not None
    edited = {**PLAN, "limits": {**PLAN["limits"], "cpu": "8"}}
    again = entitlements(spec, edited, [], first.locked)
    assert again.limits["cpu"] == 2  # plan edit does not reach a locked tenant
    with_addon = entitlements(spec, edited, [AddOnUse("a", 1, {"limits": {"users": 1}})], first.locked)
    assert with_addon.limits["cpu"] == 8  # its own change of add-ons takes a new snapshot


def test_caps_make_unsynchronized() -> None:
    ent = entitlements({"plan": "p"}, PLAN, [], None, caps={"cpu": Decimal(1)})
    assert ent.state == "Unsynchronized" and ent.limits["cpu"] == 1
    assert [s.as_status() for s in ent.shortfalls] == [{"property": "limits.cpu", "promised": "2", "available": "1"}]


def test_allocation_oldest_first() -> None:
    reseller = {"allocation": {"tenants": 2, "limits": {"cpu": "3"}}}
    wants = parse_limits({"cpu": "2"})
    shares = allocate(reseller, [("a", wants), ("b", wants), ("c", wants)])
    assert shares["a"].admitted and shares["a"].caps == {}
    assert shares["b"].admitted and shares["b"].caps == {"cpu": Decimal(1)}
    assert not shares["c"].admitted
    oversold = allocate({"allocation": {"limits": {"cpu": "3"}, "oversell": True}}, [("a", wants), ("b", wants)])
    assert oversold["b"].caps == {}


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("memory", Decimal(2**30), "1Gi"),
        ("memory", Decimal(1536 * 2**20), "1536Mi"),
        ("cpu", Decimal("0.5"), "500m"),
        ("cpu", Decimal(4), "4"),
        ("users", Decimal(7), 7),
        ("storage", Decimal(0), "0"),
    ],
)
def test_format_limit(key: str, value: Decimal, text: object) -> None:
    assert format_limit(key, value) == text


def test_config_defaults_and_errors() -> None:
    config = parse({"baseDomain": "apps.test.example", "driftInterval": 5})
    assert config.base_domain == "apps.test.example" and config["ingress"]["className"] == "nginx"
    with pytest.raises(ConfigError) as error:
        parse({"driftIntervall": 5, "ingress": {"class": "x"}, "workers": 0})
    text = str(error.value)
    assert "(top level): Additional properties are not allowed ('driftIntervall'" in text
    assert "ingress: Additional properties are not allowed ('class'" in text and "known keys here" in text
    assert "workers: 0 is less than the minimum of 1" in text


def test_documented_configuration_file_is_the_defaults() -> None:
    from pathlib import Path

    import yaml

    from landlord.config import DEFAULTS, load

    path = Path(__file__).resolve().parents[2] / "docs" / "landlord-config.yaml"
    assert yaml.safe_load(path.read_text()) == DEFAULTS
    assert load(path).raw == DEFAULTS
