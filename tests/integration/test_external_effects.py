"""A component with an external effect, through a provider chosen by the configuration.

The "external system" is a JSON file that outlives the operator, written by a provider that
exists only in these tests. They show the seam the database, certificates, DNS and backups
build on: the provider is selected and validated from the configuration, the intent is
recorded in the Tenant status before the effect, a kill at any point converges without a
duplicate, and a provider error reaches the condition redacted and recovers by itself.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from landlord.components import Component, Context, Observation, default_components
from landlord.pipeline import Desired
from landlord.providers import ProviderError, ProviderSpec, register, unregister
from landlord.runner import OperatorThread
from tests.helpers import eventually
from tests.integration import conftest
from tests.integration.conftest import Env
from tests.integration.test_tenancy import plan, tenant


class FileLedger:
    """An external system: entries in a JSON file. Creating is not idempotent (a second create
    makes a second entry), as many real APIs are: only the recorded intent prevents duplicates."""

    name = "ledger-test"
    gate = threading.Event()  # cleared: create() waits, as a slow external call would
    down = threading.Event()  # set: every call fails, as an unreachable server would
    calls: list[str] = []

    def __init__(self, settings: dict[str, Any]) -> None:
        self.path = Path(settings["path"])

    def _read(self) -> dict[str, Any]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def _check(self) -> None:
        if FileLedger.down.is_set():
            raise ProviderError(f"cannot reach ledger at file://admin:{SECRET}@ledger.example", retryable=True)

    async def create(self, key: str) -> None:
        self._check()
        FileLedger.calls.append(key)
        while not FileLedger.gate.is_set():
            await asyncio.sleep(0.02)
        entries = self._read()
        entries[key] = {"created": entries.get(key, {}).get("created", 0) + 1}
        self.path.write_text(json.dumps(entries))

    async def exists(self, key: str) -> bool:
        self._check()
        return key in self._read()

    async def close(self) -> None:
        pass


SECRET = "ledger-pa55word"


class LedgerComponent(Component):
    """One ledger entry per tenant: intent in status.ledger first, then the effect."""

    name = "ledger"
    condition = "LedgerReady"
    namespaced = False
    renders = False  # no Kubernetes children: only the external effect

    def healthy(self, desired: Desired) -> str:
        return f"ledger entry {desired.name} exists"

    async def act(self, ctx: Context) -> None:
        provider = ctx.providers.get("database")
        assert isinstance(provider, FileLedger)
        key = ctx.desired.name
        state = (ctx.status.get("ledger") or {}).get("state")
        try:
            present = await provider.exists(key)
            if not present:
                if state is None:
                    await ctx.record_status({"ledger": {"entry": key, "state": "Requested"}})  # intent first
                await provider.create(key)  # Requested and absent: the effect never happened
                present = True
        except ProviderError as exc:
            ctx.notes[self.name] = Observation(False, "ProviderUnavailable", exc.message, recheck_after=0.5)
            return
        ctx.notes[self.name] = Observation(True, "Created", self.healthy(ctx.desired))

    def observe(self, ctx: Context) -> Observation:
        note: Observation = ctx.notes.get(self.name, Observation(False, "Unknown", "not looked at yet"))
        return note

    def status_fields(self, ctx: Context) -> dict[str, Any]:
        note = ctx.notes.get(self.name)
        return {"ledger": {"entry": ctx.desired.name, "state": "Done" if note and note.ok else "Requested"}}


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Path]:
    register(
        ProviderSpec(
            "database",
            "ledger-test",
            FileLedger,
            schema={"type": "object", "properties": {"path": {"type": "string"}}},
            credentials=("path",),
        )
    )
    FileLedger.gate.set()
    FileLedger.down.clear()
    FileLedger.calls = []
    yield tmp_path / "ledger.json"
    unregister("database", "ledger-test")


async def start(env: Env, path: Path) -> OperatorThread:
    env.config = conftest.test_config(driftInterval=3600, database={"provider": "ledger-test", "path": str(path)})
    operator = OperatorThread(env.config, login=env.login)
    component = LedgerComponent()
    operator.state.components = lambda: [*default_components(), component]
    env.operator = operator
    await asyncio.to_thread(operator.start)
    return operator


def entries(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


async def ledger_state(env: Env, name: str) -> str | None:
    obj = await env.get("Tenant", name)
    return (((obj or {}).get("status") or {}).get("ledger") or {}).get("state")


async def test_the_provider_is_chosen_by_configuration_and_its_condition_rolls_up(env: Env, ledger: Path) -> None:
    await env.apply(plan())
    await start(env, ledger)
    await env.apply(tenant("led"))
    obj = await env.wait_phase("led", "Active")
    conds = {c["type"]: c for c in obj["status"]["conditions"]}
    assert conds["LedgerReady"]["status"] == "True" and conds["Ready"]["status"] == "True"
    assert obj["status"]["ledger"] == {"entry": "led", "state": "Done"}
    assert entries(ledger) == {"led": {"created": 1}}


async def test_killed_after_recording_the_intent_converges_without_a_duplicate(env: Env, ledger: Path) -> None:
    await env.apply(plan())
    FileLedger.gate.clear()  # the external call hangs: the operator is killed in the middle of it
    await start(env, ledger)
    await env.apply(tenant("kill"))
    await eventually(lambda: ledger_state(env, "kill"), timeout=10)
    await eventually(lambda: FileLedger.calls, timeout=10)  # the call follows the recorded intent
    assert await ledger_state(env, "kill") == "Requested" and FileLedger.calls == ["kill"]
    await env.stop_operator()
    # The effect completed in the external system after all (the operator died before it knew).
    ledger.write_text(json.dumps({"kill": {"created": 1}}))
    FileLedger.gate.set()
    await start(env, ledger)
    await env.wait_phase("kill", "Active")

    async def done() -> bool:
        return await ledger_state(env, "kill") == "Done"

    await eventually(done, timeout=10)
    assert entries(ledger) == {"kill": {"created": 1}}  # looked before acting again: no second create
    # A restart with everything done repeats no effect at all.
    await env.stop_operator()
    FileLedger.calls = []
    await start(env, ledger)
    await env.quiet()
    assert FileLedger.calls == [] and entries(ledger) == {"kill": {"created": 1}}


async def test_provider_errors_reach_the_condition_redacted_and_recover_by_themselves(env: Env, ledger: Path) -> None:
    await env.apply(plan())
    FileLedger.down.set()
    await start(env, ledger)
    await env.apply(tenant("down"))

    async def unavailable() -> dict[str, Any] | None:
        obj = await env.get("Tenant", "down")
        conds = {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or []}
        return conds.get("LedgerReady")

    cond = await eventually(unavailable, timeout=10)
    assert cond["status"] == "False" and cond["reason"] == "ProviderUnavailable"
    assert SECRET not in cond["message"] and "cannot reach ledger" in cond["message"]
    obj = await env.get("Tenant", "down")
    assert obj["status"]["phase"] != "Failed"  # a server that is down is not the user's to fix
    events = await env.client.list("Event", "default")
    assert all(SECRET not in e["message"] for e in events)
    FileLedger.down.clear()  # the server is back: recovery needs no one
    await env.wait_phase("down", "Active")

    async def ready() -> bool:
        got = await env.get("Tenant", "down")
        return all(c["status"] == "True" for c in got["status"]["conditions"])

    await eventually(ready, timeout=10)
    assert entries(ledger) == {"down": {"created": 1}}


def test_a_wrong_configuration_is_refused_naming_the_key(ledger: Path) -> None:
    from landlord.providers import ProviderConfigError, load_providers

    with pytest.raises(ProviderConfigError) as error:
        load_providers({"database": {"provider": "ledger-test", "paht": "/tmp/x"}})
    assert "database.paht: unknown key" in str(error.value)
    assert "database.path: required by provider 'ledger-test' and missing" in str(error.value)


async def test_killed_before_the_effect_happened_makes_it_exactly_once(env: Env, ledger: Path) -> None:
    await env.apply(plan())
    FileLedger.gate.clear()
    await start(env, ledger)
    await env.apply(tenant("never"))
    await eventually(lambda: ledger_state(env, "never"), timeout=10)
    await env.stop_operator()  # killed inside the external call: nothing reached the system
    assert entries(ledger) == {}
    FileLedger.gate.set()
    await start(env, ledger)

    async def done() -> bool:
        return await ledger_state(env, "never") == "Done"

    await eventually(done, timeout=10)
    assert entries(ledger) == {"never": {"created": 1}}
