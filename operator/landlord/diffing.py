"""Does a live object already have what we would apply? (So that a no-op makes no write.)

The desired object is a partial configuration: it matches when every field it sets is present
in the live object with the same value. Quantities compare by value ("1024Mi" == "1Gi"),
because API servers may rewrite them in canonical form.
"""

from __future__ import annotations

from typing import Any

from .kinds import KINDS
from .quantity import parse_quantity

_IGNORED_META = {"labels", "annotations", "name", "namespace"}


def _same_scalar(desired: Any, live: Any) -> bool:
    if desired == live:
        return True
    if isinstance(desired, (str, int)) and isinstance(live, (str, int)) and not isinstance(desired, bool):
        try:
            return parse_quantity(desired) == parse_quantity(live)
        except (ValueError, TypeError):
            return False
    return False


def contains(live: Any, desired: Any) -> bool:
    # (Equal values contain each other, whatever their type: checked first, it spares the
    # recursion for nearly everything an up-to-date child holds.)
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        for key, value in desired.items():
            if key not in live:
                return False
            have = live[key]
            if have is not value and have != value and not contains(have, value):
                return False
        return True
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        for have, value in zip(live, desired, strict=True):
            if have is not value and have != value and not contains(have, value):
                return False
        return True
    return _same_scalar(desired, live)


def up_to_date(live: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    if live is None:
        return False
    body = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind", "metadata")}
    meta = desired.get("metadata", {})
    live_meta = live.get("metadata", {})
    for key in ("labels", "annotations"):
        if not contains(live_meta.get(key) or {}, meta.get(key) or {}):
            return False
    if live_meta.get("deletionTimestamp"):
        return False
    # A map the desired object sets must not keep keys we used to set: the kind registry names
    # the maps compared exactly (ResourceQuota hard limits, ConfigMap and Secret data).
    entry = KINDS.get(str(desired.get("kind", "")))
    for exact in entry.exact if entry else ():
        want = _dig(desired, exact)
        if want is not None and set((_dig(live, exact) or {}).keys()) != set(want.keys()):
            return False
    return contains(live, body)


def stray_fields(live: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any] | None:
    """A merge patch removing keys that someone else added to maps Landlord owns whole.

    Server-side apply keeps fields another manager set (an `ingress: [{}]` added to the
    default-deny policy, a key added to the entitlements); for the maps the kind registry marks
    exact, they are removed. None when there is nothing to remove.
    """
    entry = KINDS.get(str(desired.get("kind", "")))
    patch: dict[str, Any] = {}
    for path in entry.exact if entry else ():
        want, have = _dig(desired, path), _dig(live, path)
        if not isinstance(want, dict) or not isinstance(have, dict):
            continue
        extra = sorted(set(have) - set(want))
        if not extra:
            continue
        node = patch
        for part in path:
            node = node.setdefault(part, {})
        node.update({key: None for key in extra})
    return patch or None


def _dig(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = obj
    for part in path:
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current
