"""The one redaction step for error texts that halbench stores, logs or shows.

An endpoint can echo the API key it was sent ("Incorrect API key provided: sk-..."), and the
error text then travels into call logs, records, run stores and the leaderboard site. Every
such text goes through :func:`redact` where it is created (the judge client and the openai
runner), so whatever writes it later gets clean text.

``redact`` removes:

- every key value registered with :func:`add_secret` (the judge client and the openai
  runner register the key they read from the environment), wherever it occurs;
- anything shaped like a bearer key: ``sk-...`` (also OpenAI's masked ``sk-abc***xyz``),
  ``Bearer <token>``, and the value of an ``Authorization`` header;
- a long hex or base64-like string (20+ characters with letters and digits) that follows
  ``api key``, ``token``, ``secret``, ``password`` or ``credential`` within 40 characters.

Each is replaced by ``[REDACTED]``. Registered keys are kept in memory only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

REDACTED = "[REDACTED]"

_secrets: set[str] = set()
_lock = threading.Lock()

# Placeholders sent to local servers that need no key: not secrets, and too common to strip.
_NOT_SECRETS = {"", "EMPTY", "none", "None"}

_SK = re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9][A-Za-z0-9_\-*]{5,}")
_VALUE = r"[^\s\"',;{}\[\]]+"  # a header value up to a quote, separator or bracket
_BEARER = re.compile(r"(?i)\bbearer\s+" + _VALUE)
_AUTH_HEADER = re.compile(
    r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)"
    r"([A-Za-z]+\s+(?:\[REDACTED\]|" + _VALUE + ")|" + _VALUE + ")"
)
_CONTEXT = re.compile(
    r"(?i)(\b(?:api[\s_-]?key|access[\s_-]?key|key|token|secret|password|passwd|credentials?)"
    r"\b[^\n]{0,40}?)([A-Za-z0-9+/_\-*]{20,}=*)"
)


def add_secret(value: str | None) -> None:
    """Remember a key value in use so that :func:`redact` removes it from every text."""
    if value is None or value.strip() in _NOT_SECRETS:
        return
    with _lock:
        _secrets.add(value)
        if value.strip() != value:
            _secrets.add(value.strip())


def _looks_secret(token: str) -> bool:
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)


def _context(m: re.Match[str]) -> str:
    return m.group(1) + (REDACTED if _looks_secret(m.group(2)) else m.group(2))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the registered keys, ``secrets``, or anything shaped like a key."""
    if not text:
        return text
    with _lock:
        values = set(_secrets)
    values.update(s for s in secrets if s and s.strip() not in _NOT_SECRETS)
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub("Bearer " + REDACTED, text)
    text = _SK.sub(REDACTED, text)
    return _CONTEXT.sub(_context, text)
