"""The file usage source (the playground's metricsSource) and the UsageWindow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from landlord.providers import ProviderError, load_providers, problems
from landlord.providers.usage import FileUsageSource, UsageSource, UsageWindow

OCTOBER = UsageWindow.of_period("2026-10")
NOVEMBER = UsageWindow.of_period("2026-11")

USAGE = """\
tenants:
  bistro: {meters: {traffic: 130Gi, storage: 5368709120}, seats: {crm: 14, total: 23}}
  florist: {seats: {total: 2}}
  gone:
periods:
  "2026-10":
    tenants:
      bistro: {meters: {traffic: 1Ti}}
  2025:
    tenants: {}
"""


def build(path: Path) -> FileUsageSource:
    source = load_providers({"metricsSource": {"provider": "file", "path": str(path)}}).get("metricsSource")
    assert isinstance(source, FileUsageSource)
    assert isinstance(source, UsageSource)
    return source


async def test_default_tenants_and_a_period_that_replaces_them(tmp_path: Path) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text(USAGE)
    source = build(path)
    assert await source.read(NOVEMBER) == {
        "bistro": {"meters": {"traffic": "130Gi", "storage": 5368709120}, "seats": {"crm": 14, "total": 23}},
        "florist": {"seats": {"total": 2}},
    }  # `gone` has no data: absent
    assert await source.read(OCTOBER) == {"bistro": {"meters": {"traffic": "1Ti"}}}  # the whole map replaced
    assert await source.read(UsageWindow.of_period("2025")) == {}  # an unquoted year is a period too
    assert source.queries == 3


async def test_edits_apply_at_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text("tenants: {bistro: {seats: {total: 1}}}\n")
    source = build(path)
    first = await source.read(NOVEMBER)
    first["bistro"]["seats"]["total"] = 99  # a caller's change does not leak into the next read
    path.write_text("tenants: {bistro: {seats: {total: 2}}, florist: {seats: {total: 3}}}\n")
    assert await source.read(NOVEMBER) == {"bistro": {"seats": {"total": 2}}, "florist": {"seats": {"total": 3}}}
    path.write_text("")
    assert await source.read(NOVEMBER) == {}


async def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "usage.yaml"
    source = build(path)
    with pytest.raises(ProviderError) as caught:
        await source.read(OCTOBER)
    assert str(path) in caught.value.message and "no such file" in caught.value.message
    assert caught.value.retryable is True  # a mounted file may appear
    assert source.queries == 1


async def test_a_yaml_error_names_the_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text("tenants:\n  bistro: {meters: {traffic: 130Gi}\n  florist: [\n")
    with pytest.raises(ProviderError) as caught:
        await build(path).read(OCTOBER)
    assert caught.value.message.startswith(f"metricsSource file {path}: not valid YAML at line ")
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- bistro\n", "must be a mapping with `tenants` and/or `periods`"),
        ("tenant: {}\n", "tenant: unknown key; known keys: tenants, periods"),
        ("tenants: [bistro]\n", "tenants: must be a mapping of tenant name to usage"),
        ("tenants: {bistro: 12}\n", "tenants.bistro: must be a usage mapping"),
        ("periods: [2026-10]\n", "periods: must be a mapping of period to {tenants: ...}"),
        ('periods: {"2026-10": {tenant: {}}}\n', "periods.2026-10.tenant: unknown key; the only key is tenants"),
        ('periods: {"2026-10": {tenants: {bistro: x}}}\n', "periods.2026-10.tenants.bistro: must be a usage mapping"),
    ],
)
async def test_a_misshapen_file_names_the_path_and_key(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text(text)
    with pytest.raises(ProviderError) as caught:
        await build(path).read(OCTOBER)
    assert caught.value.message.startswith(f"metricsSource file {path}: {problem}")


def test_configuration_problems_name_the_key() -> None:
    assert problems("metricsSource", {"provider": "file"}) == [
        "metricsSource.path: required by provider 'file' and missing; set it"
    ]
    assert problems("metricsSource", {"provider": "file", "path": ""}) == ["metricsSource.path: '' should be non-empty"]
    assert problems("metricsSource", {"provider": "file", "path": "u.yaml", "url": "http://p"}) == [
        "metricsSource.url: unknown key; known keys: provider, path"
    ]
    assert problems("metricsSource", {"provider": "file", "path": "u.yaml"}) == []


def test_usage_window() -> None:
    october = UsageWindow.of_period("2026-10")
    assert (october.start, october.end) == (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    assert october.range == "2678400s"  # 31 days
    assert UsageWindow.of_period("2026-02").range == "2419200s"
    assert UsageWindow.of_period("2026-12").end == datetime(2027, 1, 1, tzinfo=UTC)
    assert UsageWindow.of_period("2028").range == f"{366 * 86400}s"
    paris = timezone(timedelta(hours=2))
    shifted = UsageWindow(
        "x", datetime(2026, 10, 1, 2, tzinfo=paris), datetime(2026, 10, 1, 2, 0, 1, 500000, tzinfo=paris)
    )
    assert shifted.start == datetime(2026, 10, 1, tzinfo=UTC) and shifted.start.tzinfo == UTC
    assert shifted.range == "1500ms"
    with pytest.raises(ValueError, match="aware"):
        UsageWindow("x", datetime(2026, 10, 1), datetime(2026, 11, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="not after start"):
        UsageWindow("x", october.end, october.start)
    for bad in ("2026-13", "26-10", "October"):
        with pytest.raises(ValueError):
            UsageWindow.of_period(bad)
