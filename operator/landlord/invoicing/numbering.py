"""Invoice numbers: `YEAR-NNNNNN` per year of issue, without gaps, each assigned exactly once.

The sequence is the ConfigMap `landlord-invoice-numbers` in the operator's namespace: one key
per year holding `{"last": N, "pending": [documents]}`. Issuing a document is two writes: the
counter, conditional on its `resourceVersion`, which takes the next number and stores the whole
document numbered with it among the pending ones; then the document itself. The rules:

- before a number is reserved, the API server has accepted the document (a dry-run create), so
  a stored document is one the server takes: a refusal cannot block the sequence;
- a reservation keeps every pending document (of any year) not yet seen in the cluster, and
  drops those that are; only once that conditional write has succeeded, which proves no
  archiver settled them meanwhile, are the missing ones created from their stored copy. So a
  crash between the two writes leaves no gap, not even across the new year;
- two writers racing for the next number conflict on the counter; the loser reads it again and
  finds either its own document pending (it is done) or another number to take;
- a document that exists is never numbered again (its name is fixed);
- before an archiver deletes a document it `settle`s it (drops it from the pending ones, with
  the same conditional write), so a stored copy never brings back an archived document.

Numbering never depends on documents still being in the cluster: the counter holds the last
number, and archived documents are gone from it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..kube import KubeClient, KubeError

logger = logging.getLogger(__name__)

COUNTER = "landlord-invoice-numbers"
MAX_ATTEMPTS = 50  # conflicts in a row before giving up (each one means another writer progressed)


class NumberingError(Exception):
    """The counter could not be updated (conflicts, or a refusal); nothing was numbered."""


class DocumentRefused(NumberingError):
    """The API server refuses the document itself (e.g. a field too long): nothing was reserved."""


def format_number(year: int, serial: int) -> str:
    return f"{year:04d}-{serial:06d}"


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return str(obj["kind"]), str(obj["metadata"]["name"])


def _dump(entry: dict[str, Any]) -> str:
    return json.dumps(entry, separators=(",", ":"), sort_keys=True)


def _entries(counter: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each year's entry, with `pending` always a list (an older counter held one document)."""
    out: dict[str, dict[str, Any]] = {}
    for year, text in (counter.get("data") or {}).items():
        entry = json.loads(text)
        pending = entry.get("pending")
        entry["pending"] = [] if pending is None else pending if isinstance(pending, list) else [pending]
        out[str(year)] = entry
    return out


@dataclass(frozen=True)
class Issued:
    """The document as the server has it, and whether this call created it."""

    document: dict[str, Any]
    created: bool


class Sequence:
    """The numbering of one operator namespace. Safe across replicas, restarts and years."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self._counter: dict[str, Any] | None = None  # the last version read or written by us
        self._seen: set[tuple[str, str]] = set()  # pending documents seen in the cluster (this run)

    def forget(self) -> None:
        """Drops what this instance remembers; each billing run starts from the server."""
        self._counter = None
        self._seen.clear()

    async def _read(self) -> dict[str, Any]:
        counter = await self.client.get("ConfigMap", COUNTER, self.namespace)
        if counter is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": COUNTER,
                    "namespace": self.namespace,
                    "labels": {"app.kubernetes.io/managed-by": "landlord"},
                    "annotations": {
                        "landlord.dev/purpose": "invoice numbers (landlord billing); never edit or delete by hand"
                    },
                },
                "data": {},
            }
            try:
                counter = await self.client.create(body)
            except KubeError as exc:
                if exc.status != 409:
                    raise
                counter = await self.client.get("ConfigMap", COUNTER, self.namespace)
                assert counter is not None
        self._counter = counter
        return counter

    async def pending(self) -> set[tuple[str, str]]:
        """(kind, name) of the documents the counter still holds: settle them before deleting them."""
        counter = await self._read()
        return {_key(doc) for entry in _entries(counter).values() for doc in entry["pending"]}

    async def last(self, year: int) -> int:
        entry = _entries(await self._read()).get(str(year))
        return int(entry["last"]) if entry else 0

    async def _exists(self, document: dict[str, Any]) -> bool:
        key = _key(document)
        if key in self._seen:
            return True
        found = await self.client.get(key[0], key[1]) is not None
        if found:
            self._seen.add(key)
        return found

    async def _create(self, document: dict[str, Any]) -> Issued:
        """Creates the document unless it exists."""
        key = _key(document)
        try:
            created = await self.client.create(document)
        except KubeError as exc:
            if exc.status != 409:
                raise NumberingError(
                    f"{key[0]} {key[1]} (number {document['spec'].get('number')}) was reserved but the API server "
                    f"refuses it now: {exc}; let it accept the document (an admission policy?) and run again"
                ) from exc
            existing = await self.client.get(*key)
            self._seen.add(key)
            return Issued(existing if existing is not None else document, False)
        self._seen.add(key)
        return Issued(created, True)

    async def _accepted(self, document: dict[str, Any]) -> None:
        """The server would create the document (a dry run): else nothing is reserved for it."""
        try:
            await self.client.create(document, dry_run=True)
        except KubeError as exc:
            if exc.status == 409:
                return  # it exists: the caller finds it
            key = _key(document)
            raise DocumentRefused(f"the API server refuses {key[0]} {key[1]}: {exc}") from exc

    async def issue(self, kind: str, name: str, year: int, build: Callable[[str], dict[str, Any]]) -> Issued:
        """The document `kind/name`: created as `build(number)` under the year's next number, or the
        one that already exists (then nothing is numbered)."""
        checked = False
        for _ in range(MAX_ATTEMPTS):
            counter = self._counter if self._counter is not None else await self._read()
            entries = _entries(counter)
            ours = [d for entry in entries.values() for d in entry["pending"] if _key(d) == (kind, name)]
            if ours:  # reserved for it earlier (a crash, or a racing replica): create it if need be
                return await self._create(ours[0])
            existing = await self.client.get(kind, name)
            if existing is not None:
                return Issued(existing, False)
            updates: dict[str, str] = {}
            missing: list[dict[str, Any]] = []
            for key, entry in entries.items():
                kept = []
                for doc in entry["pending"]:
                    if not await self._exists(doc):
                        kept.append(doc)
                if kept != entry["pending"]:
                    updates[key] = _dump({**entry, "pending": kept})
                missing.extend(kept)
            entry = entries.get(str(year), {"last": 0, "pending": []})
            serial = int(entry["last"]) + 1
            document = build(format_number(year, serial))
            if not checked:
                await self._accepted(document)
                checked = True
            kept = [d for d in entry["pending"] if d in missing]
            updates[str(year)] = _dump({"last": serial, "pending": [*kept, document]})
            patch = {"metadata": {"resourceVersion": counter["metadata"]["resourceVersion"]}, "data": updates}
            try:
                self._counter = await self.client.patch("ConfigMap", COUNTER, patch, self.namespace)
            except KubeError as exc:
                if exc.status != 409:
                    where = f"{self.namespace}/{COUNTER}"
                    raise NumberingError(f"cannot update the invoice counter {where}: {exc}") from exc
                self._counter = None  # someone else numbered a document: read again
                continue
            for doc in missing:  # still pending when we moved the counter: never created, nor settled
                logger.info("creating %s %s, numbered %s before a crash", *_key(doc), doc["spec"]["number"])
                await self._create(doc)
            return await self._create(document)
        raise NumberingError(
            f"the invoice counter {self.namespace}/{COUNTER} kept changing under {MAX_ATTEMPTS} attempts; retried "
            "at the next run"
        )

    async def settle(self, kind: str, name: str) -> None:
        """Drops `kind/name` (which exists: the caller holds it) from the pending documents, so that
        it may leave the cluster (archived) without a stored copy ever bringing it back."""
        for _ in range(MAX_ATTEMPTS):
            counter = await self._read()
            updates = {}
            for year, entry in _entries(counter).items():
                kept = [d for d in entry["pending"] if _key(d) != (kind, name)]
                if kept != entry["pending"]:
                    updates[year] = _dump({**entry, "pending": kept})
            if not updates:
                return
            patch = {"metadata": {"resourceVersion": counter["metadata"]["resourceVersion"]}, "data": updates}
            try:
                self._counter = await self.client.patch("ConfigMap", COUNTER, patch, self.namespace)
                return
            except KubeError as exc:
                if exc.status != 409:
                    raise
        raise NumberingError(f"the invoice counter {self.namespace}/{COUNTER} kept changing; retried at the next run")
