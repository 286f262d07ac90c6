"""Field errors as apimachinery reports them (`field.Error`), and the MISSING marker.

Shared by the emulator (422 Invalid causes) and `landlord validate` (its problems), so both
word a broken field the way a real API server does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MISSING: Any = object()
"""Marks an absent value (no old object, a field to drop), distinct from JSON null."""


@dataclass
class FieldError:
    """One invalid field, like apimachinery's `field.Error`."""

    type: str  # FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, ...
    field: str
    value: Any = MISSING
    detail: str = ""

    def body(self) -> str:
        """The message without the field path, e.g. `Invalid value: 3: must be less than 2`."""
        if self.type == "FieldValueRequired":
            text = "Required value"
        elif self.type == "FieldValueForbidden":
            text = "Forbidden"
        elif self.type == "FieldValueTooLong":
            text = "Too long"
        elif self.type == "FieldValueTooMany":
            text = "Too many"
        elif self.type == "FieldValueDuplicate":
            text = f"Duplicate value: {_show(self.value)}"
        elif self.type == "FieldValueNotSupported":
            text = f"Unsupported value: {_show(self.value)}"
        elif self.type == "FieldValueNotFound":
            text = f"Not found: {_show(self.value)}"
        else:
            text = "Invalid value"
            if self.value is not MISSING:
                text += f": {_show(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def cause(self) -> dict[str, Any]:
        """The entry of a Status' `details.causes`."""
        return {"reason": self.type, "message": self.body(), "field": self.field}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
