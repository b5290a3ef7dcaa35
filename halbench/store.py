"""The answer store: every generated answer is committed to SQLite (WAL) as it is produced.

Key: (run key, item id, prompt key). The run key hashes the benchmark and its version,
the model's fingerprint and backend, and every generation setting; the prompt key
hashes the question text and the image's bytes. So a killed run resumes with exactly
what is missing, and a changed model, setting, question or image never reuses an answer.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError
from halbench.io import sha256_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    run_key    TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    prompt_key TEXT NOT NULL,
    answer     TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (run_key, item_id, prompt_key)
);
CREATE TABLE IF NOT EXISTS runs (
    run_key    TEXT PRIMARY KEY,
    descriptor TEXT NOT NULL
);
"""


def run_key(descriptor: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(descriptor, sort_keys=True).encode()).hexdigest()[:32]


_IMAGE_DIGESTS: dict[tuple[str, int, int], str] = {}


def prompt_key(question: str, image: Path | None) -> str:
    """sha256 of the question and the image bytes (image hashes memoised by path, size, mtime)."""
    h = hashlib.sha256(question.encode())
    if image is not None:
        st = image.stat()
        stamp = (str(image), st.st_size, st.st_mtime_ns)
        digest = _IMAGE_DIGESTS.get(stamp)
        if digest is None:
            digest = _IMAGE_DIGESTS[stamp] = sha256_file(image)
        h.update(b"\0" + digest.encode())
    return h.hexdigest()[:32]


class AnswerStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def register(self, key: str, descriptor: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO runs (run_key, descriptor) VALUES (?, ?)",
            (key, json.dumps(descriptor, sort_keys=True)),
        )

    def get(self, key: str, items: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Answers already stored for ``(item_id, prompt_key)`` pairs, by item id."""
        wanted = dict(items)
        rows = self._db.execute(
            "SELECT item_id, prompt_key, answer FROM answers WHERE run_key = ?", (key,)
        )
        return {item: answer for item, pk, answer in rows if wanted.get(item) == pk}

    def put(self, key: str, item_id: str, prompt: str, answer: str) -> None:
        """Commit one answer (its own transaction: a crash loses nothing stored before it)."""
        self._db.execute(
            "INSERT OR REPLACE INTO answers (run_key, item_id, prompt_key, answer, created_at) VALUES (?, ?, ?, ?, ?)",
            (key, item_id, prompt, answer, time.time()),
        )

    def merge(self, path: str | Path) -> int:
        """Copy in another store file's answers (answers already here win); return how many."""
        try:
            self._db.execute("ATTACH DATABASE ? AS other", (str(path),))
        except sqlite3.DatabaseError as exc:
            raise HalbenchError(f"{path}: cannot open as an answer store: {exc}") from None
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR IGNORE INTO main.runs SELECT * FROM other.runs")
            runs = self._db.total_changes
            self._db.execute(
                "INSERT OR IGNORE INTO main.answers (run_key, item_id, prompt_key, answer, created_at) "
                "SELECT run_key, item_id, prompt_key, answer, created_at FROM other.answers"
            )
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise HalbenchError(f"{path}: not a halbench answer store: {exc}") from None
        finally:
            self._db.execute("DETACH DATABASE other")
        return self._db.total_changes - runs

    def count(self, key: str) -> int:
        return self._db.execute(
            "SELECT COUNT(*) FROM answers WHERE run_key = ?", (key,)
        ).fetchone()[0]

    def close(self) -> None:
        self._db.close()
