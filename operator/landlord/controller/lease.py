"""One replica acts per shard: a `coordination.k8s.io/v1` Lease, `landlord-shard-K-of-N`.

A replica acts on its shard's tenants only while it holds the Lease. It takes a Lease that is
free, or whose holder has not renewed it for `duration` seconds as this replica observed it
(the time it last saw the Lease change, by its own clock: no trust in the other's clock). It
renews every `duration / 3`, and stops acting once it could not renew for `2 * duration / 3`,
before anyone else may take it over (after `duration`): so two replicas never act at once,
even with a replica cut off from the API server. A replica that stops cleanly releases the
Lease, so that its successor starts at once rather than after `duration`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..kube import KubeClient, KubeError
from ..sharding import Shard

logger = logging.getLogger(__name__)


def _micro(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_name(shard: Shard) -> str:
    return f"landlord-shard-{shard.index}-of-{shard.count}"


class ShardLease:
    """Acquires, renews and releases one shard's Lease; `held` is set while this replica may act."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        shard: Shard,
        identity: str,
        duration: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.shard = shard
        self.name = lease_name(shard)
        self.identity = identity
        self.duration = duration
        self.clock = clock
        self.held = asyncio.Event()
        self._seen: tuple[str, float] | None = None  # (resourceVersion, when this replica saw it change)
        self._renewed = 0.0  # when this replica last renewed it (its clock)

    def _body(self, transitions: int) -> dict[str, Any]:
        now = _micro(datetime.now(UTC))
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.duration)),
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    async def _try(self) -> bool:
        """One attempt to take or renew the Lease; True when this replica holds it now."""
        lease = await self.client.get("Lease", self.name, self.namespace)
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._body(0),
            }
            try:
                await self.client.create(body)
            except KubeError as exc:
                if exc.status == 409:
                    return False  # another replica made it first
                raise
            return True
        spec = lease.get("spec") or {}
        version = str(lease["metadata"].get("resourceVersion"))
        now = self.clock()
        if self._seen is None or self._seen[0] != version:
            self._seen = (version, now)  # changed (renewed by its holder) since we last looked
        holder = spec.get("holderIdentity")
        if holder and holder != self.identity and now - self._seen[1] < self.duration:
            return False  # held, and renewed within the duration as we observed it
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if holder == self.identity else 1)
        spec_patch = self._body(transitions)
        if holder == self.identity:
            spec_patch.pop("acquireTime")
        patch = {"metadata": {"resourceVersion": version}, "spec": spec_patch}
        try:
            updated = await self.client.patch("Lease", self.name, patch, self.namespace)
        except KubeError as exc:
            if exc.status == 409:
                return False  # someone else renewed or took it meanwhile
            raise
        self._seen = (str(updated["metadata"].get("resourceVersion")), self.clock())
        if holder != self.identity:
            logger.info("shard %s: took the Lease %s (from %s)", self.shard, self.name, holder or "nobody")
        return True

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Takes the Lease, then keeps it; `held` follows. Runs until cancelled (or `stop`)."""
        stop = stop or asyncio.Event()
        step = self.duration / 3
        while not stop.is_set():
            try:
                if await self._try():
                    self._renewed = self.clock()
                    if not self.held.is_set():
                        logger.info("shard %s: this replica (%s) acts for it", self.shard, self.identity)
                    self.held.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the API server away: keep trying, and let go in time
                logger.warning("shard %s: the Lease %s could not be renewed: %s", self.shard, self.name, exc)
            if self.held.is_set() and self.clock() - self._renewed >= 2 * self.duration / 3:
                logger.error("shard %s: the Lease was not renewed in time; this replica stops acting", self.shard)
                self.held.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), step)

    async def release(self) -> None:
        """Gives the Lease up (a clean stop): the next replica takes it at once."""
        if not self.held.is_set():
            return
        self.held.clear()
        try:
            lease = await self.client.get("Lease", self.name, self.namespace)
            if lease is not None and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                patch = {
                    "metadata": {"resourceVersion": lease["metadata"]["resourceVersion"]},
                    "spec": {"holderIdentity": None},
                }
                await self.client.patch("Lease", self.name, patch, self.namespace)
        except KubeError as exc:
            logger.warning("shard %s: could not release the Lease %s: %s", self.shard, self.name, exc)
