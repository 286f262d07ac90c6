"""Invoice numbers: `YEAR-NNNNNN` per year of issue, without gaps, each assigned exactly once.

The sequence is the ConfigMap `landlord-invoice-numbers` in the operator's namespace: one key
per year holding `{"last": N, "pending": <the document numbered N>}`. Issuing a document is two
writes: the counter (conditional on its `resourceVersion`), then the document. Whoever moves
the counter past a pending document first makes sure that document exists, creating it from
the copy in the counter when a crash came between the two writes. So:

- a number is reserved for exactly one document, and that document is created (no gap);
- two writers racing for the next number conflict on the counter; the loser re-reads it and
  finds either its own document pending (it is done) or another number to take;
- a document that already exists is never numbered again (its name is fixed).

Numbering never depends on documents still being in the cluster (archived ones are gone): the
counter holds the last number.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ..kube import KubeClient, KubeError

logger = logging.getLogger(__name__)

COUNTER = "landlord-invoice-numbers"
MAX_ATTEMPTS = 50  # conflicts in a row before giving up (each one means another writer progressed)


class NumberingError(Exception):
    """The counter could not be updated (conflicts, or a refusal); nothing was numbered."""


def format_number(year: int, serial: int) -> str:
    return f"{year:04d}-{serial:06d}"


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return str(obj["kind"]), str(obj["metadata"]["name"])


class Sequence:
    """The numbering of one operator namespace. Safe across replicas and restarts."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self._counter: dict[str, Any] | None = None  # the last version read or written by us
        self._created: set[tuple[str, str]] = set()  # documents known to exist (no GET needed)

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
        """(kind, name) of the documents the counter still holds as pending: not to be archived."""
        counter = await self._read()
        out = set()
        for text in (counter.get("data") or {}).values():
            entry = json.loads(text)
            if entry.get("pending"):
                out.add(_key(entry["pending"]))
        return out

    async def settle(self, kind: str, name: str) -> None:
        """Drops the counter's copy of `kind/name` (which exists: the caller holds it), so that the
        document may leave the cluster (archived) without a later run re-creating it from the copy."""
        for _ in range(MAX_ATTEMPTS):
            counter = await self._read()
            data = counter.get("data") or {}
            updates = {}
            for year, text in data.items():
                entry = json.loads(text)
                if entry.get("pending") is not None and _key(entry["pending"]) == (kind, name):
                    updates[year] = json.dumps({"last": entry["last"]}, separators=(",", ":"), sort_keys=True)
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

    async def last(self, year: int) -> int:
        counter = await self._read()
        text = (counter.get("data") or {}).get(str(year))
        return int(json.loads(text)["last"]) if text else 0

    async def _ensure(self, document: dict[str, Any]) -> dict[str, Any]:
        """Creates the document unless it exists; returns it."""
        key = _key(document)
        try:
            created = await self.client.create(document)
        except KubeError as exc:
            if exc.status != 409:
                raise
            existing = await self.client.get(key[0], key[1])
            if existing is None:  # created and deleted meanwhile (archived): it did exist
                self._created.add(key)
                return document
            created = existing
        self._created.add(key)
        return created

    async def _exists(self, document: dict[str, Any]) -> bool:
        key = _key(document)
        if key in self._created:
            return True
        found = await self.client.get(key[0], key[1]) is not None
        if found:
            self._created.add(key)
        return found

    async def issue(self, kind: str, name: str, year: int, build: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        """The document `kind/name`: created as `build(number)` under the year's next number, or the
        one that already exists (then nothing is numbered). Returns the object from the server."""
        for _ in range(MAX_ATTEMPTS):
            counter = self._counter if self._counter is not None else await self._read()
            data = counter.get("data") or {}
            entry: dict[str, Any] = json.loads(data[str(year)]) if data.get(str(year)) else {"last": 0}
            pending: dict[str, Any] | None = entry.get("pending")
            if pending is not None and _key(pending) == (kind, name):
                return await self._ensure(pending)  # reserved for it earlier (a crash, or a racing replica)
            if pending is not None and not await self._exists(pending):
                logger.info("creating %s %s, numbered %s before a restart", *_key(pending), pending["spec"]["number"])
                await self._ensure(pending)
            existing = await self.client.get(kind, name)
            if existing is not None:
                self._created.add((kind, name))
                return existing
            serial = int(entry["last"]) + 1
            document = build(format_number(year, serial))
            reserved = {"last": serial, "pending": document}
            patch = {
                "metadata": {"resourceVersion": counter["metadata"]["resourceVersion"]},
                "data": {str(year): json.dumps(reserved, separators=(",", ":"), sort_keys=True)},
            }
            try:
                self._counter = await self.client.patch("ConfigMap", COUNTER, patch, self.namespace)
            except KubeError as exc:
                if exc.status != 409:
                    raise NumberingError(
                        f"cannot update the invoice counter {self.namespace}/{COUNTER}: {exc}"
                    ) from exc
                self._counter = None  # someone else numbered a document: read again
                continue
            return await self._ensure(document)
        raise NumberingError(
            f"the invoice counter {self.namespace}/{COUNTER} kept changing under {MAX_ATTEMPTS} attempts; retried "
            "at the next run"
        )
