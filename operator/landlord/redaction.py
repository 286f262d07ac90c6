"""The one redaction step every error text passes through before status, Events or logs.

Providers talk to systems with passwords, tokens and keys, and their libraries like to echo
connection strings in exceptions. Anything that leaves the operator (a condition message, an
Event, a log line) goes through `redact`: credentials in URIs, `password=`-style pairs,
bearer tokens, PEM blocks, and every value registered with `register_secret` (the exact
secrets the operator handles: generated passwords, admin credentials) are replaced.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "[REDACTED]"
_MIN_SECRET = 6  # shorter values would mask ordinary words

_KEYS = r"(?i:\b[\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[\w-]*)"
_PATTERNS = (
    # scheme://user:password@host: the password may hold '/', ':' or '@'; the host follows the last '@'
    (
        re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)(?P<secret>\S+)(?P<tail>@[^\s@/]+)"),
        r"\g<head>" + MASK + r"\g<tail>",
    ),
    # password="a quoted phrase", secret: 'x y'
    (
        re.compile(r"(?P<head>" + _KEYS + r"[\"']?\s*[=:]\s*)(?P<q>[\"'])(?P<secret>.*?)(?P=q)"),
        r"\g<head>\g<q>" + MASK + r"\g<q>",
    ),
    # password=..., passwd: ..., token=..., apikey ..., in DSNs, YAML and JSON
    (re.compile(r"(?P<head>" + _KEYS + r"[\"']?\s*[=:]\s*)(?P<secret>[^\s\"',;&}]+)"), r"\g<head>" + MASK),
    # Authorization: Bearer xyz / Basic xyz / token xyz
    (re.compile(r"(?P<head>(?i:\b(?:bearer|basic|token))\s+)(?P<secret>[A-Za-z0-9._~+/=-]{8,})"), r"\g<head>" + MASK),
    # PEM blocks (keys, certificates with keys)
    (re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S), MASK),
)

_lock = threading.Lock()
_secrets: set[str] = set()
_known: list[str] = []  # the secrets, longest first
# Texts already redacted against the current secrets: the same condition messages pass here on
# every reconcile of every tenant. Emptied when a secret is registered, and when full.
_done: dict[str, str] = {}
_DONE_MAX = 4096
_DONE_LONGEST = 2048


def register_secret(value: str | None) -> None:
    """Remembers an exact secret value so that it is masked wherever it appears."""
    if value and len(value) >= _MIN_SECRET:
        with _lock:
            if value not in _secrets:
                _secrets.add(value)
                _known[:] = sorted(_secrets, key=len, reverse=True)
                _done.clear()


def redact(text: object) -> str:
    """The text with every credential masked. Safe to call on anything (it is stringified)."""
    out = str(text)
    with _lock:
        cached = _done.get(out)
        if cached is not None:
            return cached
        known = list(_known)
    original = out
    for secret in known:
        if secret in out:
            out = out.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        out = pattern.sub(replacement, out)
    with _lock:
        # (A secret registered meanwhile: the answer may be stale, not kept. Long texts: not kept.)
        if len(known) == len(_known) and len(original) <= _DONE_LONGEST:
            if len(_done) >= _DONE_MAX:
                _done.clear()
            _done[original] = out
    return out


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message (and drops exception text of secrets)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text = str(error)
            if redact(text) != text:
                # The traceback would repeat the secret: keep the type and the redacted text only.
                record.msg = f"{record.getMessage()} ({type(error).__name__}: {redact(text)})"
                record.args = None
                record.exc_info = None
                record.exc_text = None
        return True


_installed = False


def install_log_redaction() -> None:
    """Redacts every log record of the process at creation, whatever handler writes it.

    A record factory rather than a handler filter: handlers come and go (the playground sends
    logs to a file, kopf adds its own), records of every logger pass through the factory.
    """
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()
    cleaner = RedactingFilter()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        cleaner.filter(record)
        return record

    logging.setLogRecordFactory(factory)
