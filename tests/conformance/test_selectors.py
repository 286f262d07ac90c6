"""Label and field selectors: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/
and https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Http

CMS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
async def labelled(http: Http) -> None:
    for name, labels in {
        "a": {"env": "prod", "tier": "web"},
        "b": {"env": "dev", "tier": "web"},
        "c": {"env": "qa"},
        "d": {},
    }.items():
        status, _ = await http.post(CMS, {"metadata": {"name": name, "labels": labels}})
        assert status == 201


async def names(http: Http, path: str = CMS, **params: str) -> list[str]:
    status, body = await http.get(path, **params)
    assert status == 200, body
    return [i["metadata"]["name"] for i in body["items"]]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", ["a"]),
        ("env==prod", ["a"]),
        ("env!=prod", ["b", "c", "d"]),
        ("env in (prod,dev)", ["a", "b"]),
        ("env notin (prod, dev)", ["c", "d"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c", "d"]),
        ("tier=web,env=dev", ["b"]),
        ("tier,env notin (dev)", ["a"]),
    ],
)
async def test_label_selectors(http: Http, labelled: None, selector: str, expected: list[str]) -> None:
    assert await names(http, labelSelector=selector) == expected


async def test_bad_label_selector_is_400(http: Http) -> None:
    status, body = await http.get(CMS, labelSelector="env in prod")
    assert status == 400 and body["reason"] == "BadRequest"


async def test_field_selectors(http: Http, labelled: None) -> None:
    await http.post("/api/v1/namespaces", {"metadata": {"name": "other"}})
    await http.post("/api/v1/namespaces/other/configmaps", {"metadata": {"name": "a"}})
    assert await names(http, "/api/v1/configmaps", fieldSelector="metadata.name=a") == ["a", "a"]
    assert await names(http, "/api/v1/configmaps", fieldSelector="metadata.namespace=other") == ["a"]
    assert await names(http, "/api/v1/configmaps", fieldSelector="metadata.name=a,metadata.namespace!=other") == ["a"]
    status, body = await http.get(CMS, fieldSelector="data.x=1")
    assert status == 400 and "field label not supported" in body["message"]


async def test_event_field_selectors(http: Http) -> None:
    """kubectl describe finds events by involvedObject fields."""
    for name, kind in (("e1", "Tenant"), ("e2", "Plan")):
        await http.post(
            "/api/v1/namespaces/default/events",
            {
                "metadata": {"name": name},
                "involvedObject": {"kind": kind, "name": "acme", "namespace": ""},
                "reason": "Test",
                "message": "m",
                "type": "Normal",
            },
        )
    found = await names(http, "/api/v1/events", fieldSelector="involvedObject.kind=Tenant,involvedObject.name=acme")
    assert found == ["e1"]


async def test_limit_and_continue(http: Http, labelled: None) -> None:
    _, page = await http.get(CMS, limit=3)
    assert [i["metadata"]["name"] for i in page["items"]] == ["a", "b", "c"]
    token = page["metadata"]["continue"]
    _status, rest = await http.get(CMS, limit=3, **{"continue": token})
    assert [i["metadata"]["name"] for i in rest["items"]] == ["d"] and "continue" not in rest["metadata"]


async def test_pages_across_namespaces_with_a_selector_and_changes_between_pages(http: Http) -> None:
    """api-concepts/#retrieving-large-results-sets-in-chunks: pages in a stable order, each
    resuming after the last one's key; `limit` counts matching objects only; the last page has no
    `continue`. Every page shows the collection at the first page's resourceVersion (one etcd
    revision): objects created after it do not appear, those deleted since do; a watch from that
    resourceVersion sees what changed meanwhile (what kopf and informers rely on)."""
    for namespace in ("ns-a", "ns-b", "ns-c"):
        await http.post("/api/v1/namespaces", {"metadata": {"name": namespace}})
        for index in range(5):
            labels = {"keep": "yes"} if index % 2 == 0 else {}
            await http.post(
                f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": f"cm{index}", "labels": labels}}
            )
    seen: list[tuple[str, str]] = []
    params: dict[str, str] = {"labelSelector": "keep=yes", "limit": "2"}
    pages = 0
    versions = set()
    while True:
        _, page = await http.get("/api/v1/configmaps", **params)
        versions.add(page["metadata"]["resourceVersion"])
        pages += 1
        assert len(page["items"]) <= 2
        seen.extend((i["metadata"]["namespace"], i["metadata"]["name"]) for i in page["items"])
        if pages == 1:  # between pages: one ahead is deleted, one ahead is created, one behind too
            await http.delete("/api/v1/namespaces/ns-b/configmaps/cm2")
            await http.post(
                "/api/v1/namespaces/ns-c/configmaps", {"metadata": {"name": "cm9", "labels": {"keep": "yes"}}}
            )
            await http.post(
                "/api/v1/namespaces/ns-a/configmaps", {"metadata": {"name": "cm1a", "labels": {"keep": "yes"}}}
            )
        token = page["metadata"].get("continue")
        if not token:
            break
        params["continue"] = token
    assert seen == [
        ("ns-a", "cm0"), ("ns-a", "cm2"), ("ns-a", "cm4"), ("ns-b", "cm0"), ("ns-b", "cm2"), ("ns-b", "cm4"),
        ("ns-c", "cm0"), ("ns-c", "cm2"), ("ns-c", "cm4"),
    ]  # fmt: skip
    assert pages == 5
    (listed,) = versions
    async with http.watch("/api/v1/configmaps", resourceVersion=listed, labelSelector="keep=yes") as stream:
        changes = [await stream.next() for _ in range(3)]
    assert [(c["type"], c["object"]["metadata"]["name"]) for c in changes] == [
        ("DELETED", "cm2"),
        ("ADDED", "cm9"),
        ("ADDED", "cm1a"),
    ]
    assert await names(http, "/api/v1/namespaces/ns-b/configmaps", limit="10") == ["cm0", "cm1", "cm3", "cm4"]


async def test_a_continue_token_past_its_time_is_gone(http: Http, labelled: None, monkeypatch: Any) -> None:
    """A continue token older than the server keeps the list's revision answers 410 Expired
    (api-concepts: "after a period of time (by default 5 minutes)"); a new list starts over."""
    from landlord.devcluster import store

    _, page = await http.get(CMS, limit=2)
    monkeypatch.setattr(store, "SNAPSHOT_TTL", 0.0)
    status, body = await http.get(CMS, limit=2, **{"continue": page["metadata"]["continue"]})
    assert status == 410 and body["reason"] == "Expired" and "too old" in body["message"]


def test_label_selector_objects() -> None:
    """labels/#resources-that-support-set-based-requirements: a LabelSelector object's
    `matchLabels` and `matchExpressions` (In, NotIn, Exists, DoesNotExist) are ANDed, with the
    same meaning as the string form; the empty selector matches everything. One implementation
    serves list/watch, ValidatingAdmissionPolicy matching and ClusterRole aggregation."""
    from landlord.devcluster.selectors import label_selector_matches, parse_label_selector

    labels = {"env": "prod", "tier": "web"}
    selector = {
        "matchLabels": {"env": "prod"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["web", "api"]},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    assert label_selector_matches(selector, labels)
    assert label_selector_matches(None, labels) and label_selector_matches({}, {})
    assert not label_selector_matches({"matchLabels": {"env": "dev"}}, labels)
    assert not label_selector_matches(
        {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, labels
    )
    assert not label_selector_matches({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, labels)
    text = parse_label_selector("env=prod,tier in (web,api),!legacy")
    assert all(r.matches(labels) for r in text)
