"""Pure helpers of the emulator, without a server."""

from __future__ import annotations

from decimal import Decimal

import pytest

from landlord.devcluster.managed_fields import from_fields_v1, to_fields_v1
from landlord.devcluster.selectors import Requirement, parse_label_selector
from landlord.devcluster.tables import human_duration, jsonpath
from landlord.quantity import is_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("8Gi", Decimal(8 * 2**30)),
        ("1e3", Decimal(1000)),
        ("2k", Decimal(2000)),
        ("1.5", Decimal("1.5")),
        (3, Decimal(3)),
    ],
)
def test_quantities(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Gi", "1GB", "one", "1..5", "--1"])
def test_not_quantities(text: str) -> None:
    assert not is_quantity(text)


def test_label_selector_parsing() -> None:
    assert parse_label_selector("a=b, c in (d,e),!f,g") == [
        Requirement("a", "=", ("b",)),
        Requirement("c", "in", ("d", "e")),
        Requirement("f", "!"),
        Requirement("g", "exists"),
    ]


def test_jsonpath_subset() -> None:
    obj = {
        "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Other", "status": "False"}]},
        "spec": {"items": [{"n": 1}, {"n": 2}]},
    }
    assert jsonpath(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert jsonpath(obj, ".spec.items[*].n") == [1, 2]
    assert jsonpath(obj, ".spec.items[1].n") == [2]
    assert jsonpath(obj, ".spec.missing") == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (200, "3m20s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (400 * 86400, "400d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_fields_v1_round_trip() -> None:
    paths = {
        ("f:data", "f:a"),
        ("f:spec", "f:c", 'k:{"name":"x"}', "."),
        ("f:spec", "f:c", 'k:{"name":"x"}', "f:image"),
    }
    tree = to_fields_v1(paths)
    assert tree == {"f:data": {"f:a": {}}, "f:spec": {"f:c": {'k:{"name":"x"}': {".": {}, "f:image": {}}}}}
    assert from_fields_v1(tree) == paths
