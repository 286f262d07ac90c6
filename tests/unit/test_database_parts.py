"""The database capability's pure parts: names, sizes, server configuration, placement, verifiers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from landlord.components.base import Services
from landlord.components.database import DatabaseComponent, ServerConfig, human_bytes, role_name, tenant_of
from landlord.config import parse
from landlord.providers import DatabaseRequest, DatabaseState, Providers, problems
from landlord.providers.postgresql import PostgresProvider, scram_matches, scram_verifier


def test_role_names_are_stable_unique_and_reversible() -> None:
    assert role_name("acme") == "t_acme" and role_name("beta-co") == "t_beta_co"
    assert tenant_of("t_beta_co") == "beta-co" and tenant_of("postgres") is None
    # Tenant names are DNS labels (no '_'): distinct tenants never share a role.
    names = ["a-b", "ab", "a-b-c", "a--b"]
    assert len({role_name(n) for n in names}) == len(names)
    assert len(role_name("x" * 61)) == 63  # PostgreSQL's identifier limit: the longest tenant name fits


def test_sizes_in_status_move_by_whole_mib() -> None:
    assert human_bytes(None) is None
    assert human_bytes(1) == "1Mi" and human_bytes(2**20) == "1Mi" and human_bytes(2**20 + 1) == "2Mi"


def test_server_configuration_reads_quantities() -> None:
    server = ServerConfig.parse(
        {
            "name": "main",
            "adminSecret": {"namespace": "ns", "name": "pg"},
            "capacity": {"databases": 10, "bytes": "2Gi"},
            "class": "ssd",
        }
    )
    assert (server.capacity_databases, server.capacity_bytes, server.server_class, server.draining) == (
        10,
        2 * 2**30,
        "ssd",
        False,
    )


def test_the_issues_configuration_shape_is_accepted_as_is_and_typos_are_named() -> None:
    section = {
        "defaultMode": "Dedicated",
        "sharedDatabase": "landlord_shared",
        "servers": [
            {
                "name": "main",
                "adminSecret": {"namespace": "landlord-system", "name": "pg-admin"},
                "capacity": {"databases": 500, "bytes": "500Gi"},
                "draining": False,
            }
        ],
    }
    assert problems("database", section) == []  # no `provider`: the one implementation is meant
    wrong = {**section, "servers": [{**section["servers"][0], "adminSecrett": {}}]}
    assert any("database.servers.0.adminSecrett: unknown key" in p for p in problems("database", wrong))
    assert problems("database", {"provider": "postgresql", "servers": [{"name": "x"}]}) == [
        "database.servers.0.adminSecret: required by provider 'postgresql' and missing; set it"
    ]


def component(*servers: dict[str, Any], tenants: list[dict[str, Any]] | None = None) -> DatabaseComponent:
    comp = DatabaseComponent(PostgresProvider(), {"servers": list(servers)})
    comp.bind(Services(parse({}), None, Providers(), lambda: tenants or [], lambda name: None))  # type: ignore[arg-type]
    return comp


def server(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "adminSecret": {"namespace": "ns", "name": "pg"}, **extra}


def placed(name: str, on: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"database": {"server": on}}}


def test_placement_takes_the_most_headroom_and_never_a_draining_or_full_server() -> None:
    comp = component(
        server("a", capacity={"databases": 10}),
        server("b", capacity={"databases": 10}),
        server("old", draining=True),
        tenants=[placed("x", "a"), placed("y", "a"), placed("z", "b")],
    )
    chosen = comp.place(None)
    assert chosen is not None and chosen.name == "b"
    full = component(server("a", capacity={"databases": 1}), tenants=[placed("x", "a")])
    assert full.place(None) is None
    assert component(server("old", draining=True)).place(None) is None


def test_placement_by_bytes_and_by_class() -> None:
    comp = component(
        server("small", capacity={"bytes": "1Gi"}),
        server("big", capacity={"bytes": "100Gi"}),
        server("fast", **{"class": "ssd"}),
        tenants=[placed("x", "small")],
    )
    comp.sizes = {"t_x": 900 * 2**20}
    without_fast = component(
        server("small", capacity={"bytes": "1Gi"}),
        server("big", capacity={"bytes": "100Gi"}),
        tenants=[placed("x", "small")],
    )
    without_fast.sizes = comp.sizes
    chosen = without_fast.place(None)  # small has 12 % left, big almost all: big, though "big" < "small"
    assert chosen is not None and chosen.name == "big"
    without_fast.sizes = {}
    first = without_fast.place(None)  # no bytes used anywhere: a tie, broken by name
    assert first is not None and first.name == "big"
    pinned = comp.place("ssd")
    assert pinned is not None and pinned.name == "fast"
    assert comp.place("nvme") is None


def test_scram_verifier_is_what_postgresql_checks() -> None:
    verifier = scram_verifier("correct horse", iterations=4096)
    head, keys = verifier.split("$", 1)[1].split("$")
    iterations, salt = head.split(":")
    stored, server = (base64.b64decode(k) for k in keys.split(":"))
    salted = hashlib.pbkdf2_hmac("sha256", b"correct horse", base64.b64decode(salt), int(iterations))
    assert stored == hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    assert server == hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert "correct horse" not in verifier and scram_verifier("correct horse") != verifier  # salted
    assert scram_matches("correct horse", verifier) and not scram_matches("wrong horse", verifier)
    assert not scram_matches("correct horse", None) and not scram_matches("x", "md5abcdef")


def test_a_reservation_holds_a_server_until_the_status_records_it() -> None:
    comp = component(server("only", capacity={"databases": 1}))
    chosen = comp.place(None)
    assert chosen is not None
    comp._reserved["first"] = chosen.name  # what the component does right after choosing
    assert comp.place(None) is None  # the last slot is taken, though no status says so yet


@pytest.mark.parametrize(
    ("state", "matches"),
    [
        (DatabaseState(True, True, False, True, True, 5, 5, False), True),
        (DatabaseState(True, True, False, True, False, 5, 5, False), False),  # login differs
        (DatabaseState(True, True, False, True, True, 4, 5, False), False),  # role limit differs
        (DatabaseState(True, True, False, True, True, 5, 5, True), False),  # read-only differs
        (DatabaseState(True, False, False, True, True, 5, 5, False), False),  # no database
    ],
)
def test_a_state_matches_a_request_only_when_nothing_is_to_change(state: DatabaseState, matches: bool) -> None:
    request = DatabaseRequest("acme", "Dedicated", "t_acme", "t_acme", None, 5)
    assert state.matches(request) is matches


async def test_a_new_tenant_never_takes_the_password_of_a_secret_it_did_not_write() -> None:
    from types import SimpleNamespace

    from landlord.components.namespace import TENANT_UID_ANNOTATION

    def secret(password: str, uid: str | None) -> dict[str, Any]:
        annotations = {TENANT_UID_ANNOTATION: uid} if uid is not None else {}
        data = {"password": base64.b64encode(password.encode()).decode()}
        return {"metadata": {"name": "landlord-database", "annotations": annotations}, "data": data}

    def ctx(live: dict[str, Any]) -> Any:
        tenant = {"metadata": {"name": "acme", "uid": "new-uid"}}
        return SimpleNamespace(lookup=lambda key: live, desired=SimpleNamespace(namespace="t-acme"), tenant=tenant)

    db = component(server("a"))
    creating = {"phase": "Creating", "username": "t_acme"}
    # An adopted namespace: the Secret of the earlier tenant (its uid), or of an older Landlord (no uid).
    for earlier in (secret("known-to-the-earlier-owner", "old-uid"), secret("known-to-the-earlier-owner", None)):
        password, fresh, _ = await db._password(ctx(earlier), creating)
        assert fresh and password != "known-to-the-earlier-owner"
    # Its own Secret (also after a kill while Creating), or one an older Landlord wrote for a database made before.
    assert (await db._password(ctx(secret("mine", "new-uid")), creating))[:2] == ("mine", False)
    assert (await db._password(ctx(secret("mine", None)), {"phase": "Ready"}))[:2] == ("mine", False)
