"""The annotation store: one SQLite file (WAL) per annotated run and benchmark.

Tables: ``meta`` (run, benchmark, model, the CSRF secret), ``items`` (question, answer,
image path), ``annotators`` (name, sha256 of the link token: the token itself is never
stored; link expiry, revoked), ``sessions`` (sha256 of each sign-in's session token; see
``access``), ``verdicts`` (an annotator marked a response free of hallucination),
``spans`` (character offsets into the answer, type, optional correction, who, when)
and ``events`` (an append-only audit log of every change).

Every change is its own short ``BEGIN IMMEDIATE`` transaction, committed before the
request returns; each connection waits up to 10 s for another writer, so two
annotators writing at the same time both land. Offsets are Python string indices
(Unicode code points) into the answer text.

Pre-annotation by a judge model is kept apart: ``judge_items`` (per response: labelled or
failed, the raw reply) and ``proposals`` (the judge's spans); a human's ``decisions``
accept a proposal (which adds an ordinary span of theirs, linked) or reject it. Human
labels are only ever the ``spans`` table.
"""

from __future__ import annotations

import datetime as _dt
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from halbench.annotate import TYPES
from halbench.annotate.access import Annotator, AnnotatorAccess, migrate_access, utc_now
from halbench.annotate.access import hash_token as hash_token  # re-exported
from halbench.annotate.schema import SCHEMA
from halbench.errors import HalbenchError
from halbench.provenance import now_utc

MAX_CORRECTION = 4000


class StoreError(HalbenchError):
    """A request the store refuses (bad offsets, unknown type, conflict); ``status`` for HTTP."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class AnnotationStore(AnnotatorAccess):
    """Thread-safe access: one SQLite connection per thread.

    ``clock`` (an aware UTC ``datetime``; tests inject one) decides link and session expiry.
    Opening a store made by older code adds the newer columns and tables (``migrate_access``).
    """

    def __init__(
        self, path: str | Path, *, clock: Callable[[], _dt.datetime] | None = None
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock or utc_now
        self._local = threading.local()
        self._conn().executescript(SCHEMA)  # idempotent; executescript commits by itself
        with self._tx() as c:
            migrate_access(c)
            if c.execute("SELECT 1 FROM meta WHERE key='csrf_secret'").fetchone() is None:
                c.execute("INSERT INTO meta VALUES ('csrf_secret', ?)", (secrets.token_hex(32),))

    # ------------------------------------------------------------------ connections

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _log(
        self, c: sqlite3.Connection, who: int | None, action: str, item: int | None, **payload: Any
    ) -> None:
        c.execute(
            "INSERT INTO events (at, annotator_id, action, item_pk, payload) VALUES (?,?,?,?,?)",
            (now_utc(), who, action, item, json.dumps(payload, ensure_ascii=False)),
        )

    # ------------------------------------------------------------------ meta

    def meta(self) -> dict[str, str]:
        rows = self._conn().execute("SELECT key, value FROM meta").fetchall()
        return {r["key"]: r["value"] for r in rows}

    def set_meta(self, values: dict[str, str]) -> None:
        with self._tx() as c:
            for k, v in values.items():
                c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, v))

    # ------------------------------------------------------------------ items

    def add_items(self, items: list[dict[str, Any]]) -> tuple[int, int]:
        """Insert items not yet stored; return (added, already there).

        An item already stored with a different answer text is an error: its spans
        point into the stored text.
        """
        with self._tx() as c:
            return self._insert_items(c, items)

    def load(self, values: dict[str, str], items: list[dict[str, Any]]) -> tuple[int, int]:
        """Load a run: check its benchmark, set ``meta``, insert items, as one transaction.

        A refused load (another benchmark, a changed answer) changes nothing, not even meta.
        """
        with self._tx() as c:
            row = c.execute("SELECT value FROM meta WHERE key='benchmark'").fetchone()
            if row is not None and row[0] != values["benchmark"]:
                raise HalbenchError(
                    f"{self.path} holds annotations of benchmark {row[0]!r}, "
                    f"not {values['benchmark']!r}"
                )
            for k, v in values.items():
                c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, v))
            return self._insert_items(c, items)

    def _insert_items(self, c: sqlite3.Connection, items: list[dict[str, Any]]) -> tuple[int, int]:
        added = same = 0
        for pos, it in enumerate(items):
            row = c.execute("SELECT answer FROM items WHERE item_id=?", (it["item_id"],)).fetchone()
            if row is not None:
                if row["answer"] != it["answer"]:
                    raise HalbenchError(
                        f"{self.path}: item {it['item_id']!r} is stored with a different answer; "
                        "annotate a different run in its own --db"
                    )
                same += 1
                continue
            c.execute(
                "INSERT INTO items (item_id, position, question, answer, image, fields) "
                "VALUES (?,?,?,?,?,?)",
                (
                    it["item_id"],
                    pos,
                    it["question"],
                    it["answer"],
                    it.get("image"),
                    json.dumps(it.get("fields", {}), ensure_ascii=False),
                ),
            )
            added += 1
        if added:
            self._log(c, None, "load_items", None, added=added)
        return added, same

    def items(self) -> list[sqlite3.Row]:
        return self._conn().execute("SELECT * FROM items ORDER BY position, pk").fetchall()

    def item(self, pk: int) -> sqlite3.Row:
        row = self._conn().execute("SELECT * FROM items WHERE pk=?", (pk,)).fetchone()
        if row is None:
            raise StoreError(f"no item {pk}", 404)
        return row

    # ------------------------------------------------------------------ judgements

    def state(self, pk: int, who: Annotator) -> dict[str, Any]:
        """One annotator's judgement of one item: verdict and spans."""
        c = self._conn()
        verdict = c.execute(
            "SELECT verdict FROM verdicts WHERE item_pk=? AND annotator_id=?", (pk, who.id)
        ).fetchone()
        spans = c.execute(
            "SELECT id, start, end, text, type, correction, created_at FROM spans "
            "WHERE item_pk=? AND annotator_id=? ORDER BY start, id",
            (pk, who.id),
        ).fetchall()
        out_spans = [dict(s) for s in spans]
        status = "clean" if verdict else ("hallucinated" if out_spans else "todo")
        proposals = c.execute(
            "SELECT p.id, p.judge, p.start, p.end, p.text, p.type, p.correction, d.decision "
            "FROM proposals p LEFT JOIN decisions d ON d.proposal_id=p.id AND d.annotator_id=? "
            "WHERE p.item_pk=? ORDER BY p.start, p.id",
            (who.id, pk),
        ).fetchall()
        return {
            "item": pk,
            "status": status,
            "spans": out_spans,
            "proposals": [dict(p) for p in proposals],
        }

    def add_span(
        self, pk: int, who: Annotator, start: Any, end: Any, type_: Any, correction: Any = None
    ) -> dict[str, Any]:
        with self._tx() as c:
            return self._insert_span(c, pk, who, start, end, type_, correction)

    def _insert_span(
        self,
        c: sqlite3.Connection,
        pk: int,
        who: Annotator,
        start: Any,
        end: Any,
        type_: Any,
        correction: Any,
    ) -> dict[str, Any]:
        """Validate and insert one span inside the caller's transaction (checks and write atomic)."""
        if type(start) is not int or type(end) is not int:
            raise StoreError("start and end must be integers")
        if type_ not in TYPES:
            raise StoreError(f"type must be one of {', '.join(TYPES)}")
        if correction is not None:
            if not isinstance(correction, str):
                raise StoreError("correction must be a string")
            if len(correction) > MAX_CORRECTION:
                raise StoreError(f"correction longer than {MAX_CORRECTION} characters")
        row = c.execute("SELECT answer FROM items WHERE pk=?", (pk,)).fetchone()
        if row is None:
            raise StoreError(f"no item {pk}", 404)
        answer = row["answer"]
        if not 0 <= start < end <= len(answer):
            raise StoreError(f"span [{start}, {end}) is not inside the answer (0..{len(answer)})")
        if c.execute(
            "SELECT 1 FROM verdicts WHERE item_pk=? AND annotator_id=?", (pk, who.id)
        ).fetchone():
            raise StoreError("this answer is marked free of hallucination: undo that first", 409)
        clash = c.execute(
            "SELECT id FROM spans WHERE item_pk=? AND annotator_id=? AND start<? AND end>?",
            (pk, who.id, end, start),
        ).fetchone()
        if clash:
            raise StoreError(f"overlaps your span {clash['id']}: delete it first", 409)
        at = now_utc()
        cur = c.execute(
            "INSERT INTO spans (item_pk, annotator_id, start, end, text, type, correction, created_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (pk, who.id, start, end, answer[start:end], type_, correction, at),
        )
        span = {
            "id": cur.lastrowid,
            "start": start,
            "end": end,
            "text": answer[start:end],
            "type": type_,
            "correction": correction,
            "created_at": at,
        }
        self._log(c, who.id, "add_span", pk, **span)
        return span

    def decide(self, proposal_id: int, who: Annotator, decision: Any) -> dict[str, Any]:
        """Accept (adds the proposal as the annotator's own span) or reject a judge's proposal.

        The check (not yet decided), the span and the decision are one transaction: of two
        decisions at once (two tabs), one lands and the other gets 409; a decision is
        "accepted" exactly when its span exists.
        """
        if decision not in ("accepted", "rejected"):
            raise StoreError('"decision" must be "accepted" or "rejected"')
        with self._tx() as c:
            p = c.execute("SELECT * FROM proposals WHERE id=?", (proposal_id,)).fetchone()
            if p is None:
                raise StoreError(f"no proposal {proposal_id}", 404)
            done = c.execute(
                "SELECT decision FROM decisions WHERE proposal_id=? AND annotator_id=?",
                (proposal_id, who.id),
            ).fetchone()
            if done is not None:
                raise StoreError(
                    f"already decided: {done['decision']} (reload the page; delete the accepted "
                    "span to decide again)",
                    409,
                )
            span = None
            if decision == "accepted":
                span = self._insert_span(
                    c, p["item_pk"], who, p["start"], p["end"], p["type"], p["correction"]
                )
            c.execute(
                "INSERT INTO decisions VALUES (?, ?, ?, ?, ?)",
                (proposal_id, who.id, decision, span["id"] if span else None, now_utc()),
            )
            self._log(c, who.id, f"proposal_{decision}", p["item_pk"], proposal=proposal_id)
        return {"proposal": proposal_id, "decision": decision, "span": span}

    def add_judge_labels(
        self,
        pk: int,
        judge: str,
        spans: list[dict[str, Any]] | None,
        error: str | None,
        reply: str | None,
    ) -> None:
        """Store one judge reply: its spans (``None`` with ``error`` when it failed)."""
        with self._tx() as c:
            c.execute(
                "DELETE FROM proposals WHERE item_pk=? AND judge=? AND id NOT IN "
                "(SELECT proposal_id FROM decisions)",
                (pk, judge),
            )
            at = now_utc()
            c.execute(
                "INSERT OR REPLACE INTO judge_items VALUES (?, ?, ?, ?, ?, ?)",
                (pk, judge, "failed" if spans is None else "labelled", error, reply, at),
            )
            for s in spans or []:
                c.execute(
                    "INSERT INTO proposals (item_pk, judge, start, end, text, type, correction, created_at) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (
                        pk,
                        judge,
                        s["start"],
                        s["end"],
                        s["text"],
                        s["type"],
                        s.get("correction"),
                        at,
                    ),
                )
            self._log(c, None, "judge_labels", pk, judge=judge, n=len(spans or []), error=error)

    def judge_done(self, judge: str) -> set[int]:
        rows = self._conn().execute(
            "SELECT item_pk FROM judge_items WHERE judge=? AND status='labelled'", (judge,)
        )
        return {r[0] for r in rows}

    def judge_labels(self) -> dict[str, dict[str, dict[str, Any]]]:
        """judge -> item_id -> {"status": labelled|failed, "error", "spans": [...]}."""
        c = self._conn()
        ids = {r["pk"]: r["item_id"] for r in self.items()}
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for r in c.execute("SELECT * FROM judge_items"):
            out.setdefault(r["judge"], {})[ids[r["item_pk"]]] = {
                "status": r["status"],
                "error": r["error"],
                "spans": [],
            }
        for r in c.execute("SELECT * FROM proposals ORDER BY item_pk, start, id"):
            entry = out.get(r["judge"], {}).get(ids[r["item_pk"]])
            if entry is not None:
                entry["spans"].append(
                    {
                        "start": r["start"],
                        "end": r["end"],
                        "text": r["text"],
                        "type": r["type"],
                        "correction": r["correction"],
                    }
                )
        return out

    def decision_counts(self) -> dict[str, dict[str, int]]:
        """judge -> {"accepted": n, "rejected": n} over every annotator's decisions."""
        out: dict[str, dict[str, int]] = {}
        for r in self._conn().execute(
            "SELECT p.judge, d.decision, COUNT(*) FROM decisions d JOIN proposals p ON p.id=d.proposal_id "
            "GROUP BY p.judge, d.decision"
        ):
            out.setdefault(r[0], {"accepted": 0, "rejected": 0})[r[1]] = r[2]
        return out

    def delete_span(self, span_id: int, who: Annotator) -> int:
        """Delete one of the annotator's own spans; return its item."""
        with self._tx() as c:
            row = c.execute(
                "SELECT * FROM spans WHERE id=? AND annotator_id=?", (span_id, who.id)
            ).fetchone()
            if row is None:
                raise StoreError(f"no span {span_id} of yours", 404)
            c.execute("DELETE FROM spans WHERE id=?", (span_id,))
            c.execute(
                "DELETE FROM decisions WHERE span_id=?", (span_id,)
            )  # proposal: pending again
            self._log(c, who.id, "delete_span", row["item_pk"], **dict(row))
        return int(row["item_pk"])

    def set_verdict(self, pk: int, who: Annotator, clean: bool) -> None:
        """Mark (or unmark) an answer as free of hallucination."""
        with self._tx() as c:
            if c.execute("SELECT 1 FROM items WHERE pk=?", (pk,)).fetchone() is None:
                raise StoreError(f"no item {pk}", 404)
            if clean:
                if c.execute(
                    "SELECT 1 FROM spans WHERE item_pk=? AND annotator_id=?", (pk, who.id)
                ).fetchone():
                    raise StoreError("this answer has hallucinated spans: delete them first", 409)
                c.execute(
                    "INSERT OR REPLACE INTO verdicts VALUES (?, ?, 'clean', ?)",
                    (pk, who.id, now_utc()),
                )
            else:
                c.execute("DELETE FROM verdicts WHERE item_pk=? AND annotator_id=?", (pk, who.id))
            self._log(c, who.id, "mark_clean" if clean else "unmark_clean", pk)

    def progress(self, who: Annotator) -> tuple[int, int]:
        c = self._conn()
        total = c.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        done = c.execute(
            "SELECT COUNT(*) FROM items i WHERE EXISTS (SELECT 1 FROM verdicts v WHERE v.item_pk=i.pk "
            "AND v.annotator_id=?) OR EXISTS (SELECT 1 FROM spans s WHERE s.item_pk=i.pk AND s.annotator_id=?)",
            (who.id, who.id),
        ).fetchone()[0]
        return int(done), int(total)

    def statuses(self, who: Annotator) -> dict[int, str]:
        c = self._conn()
        clean = {
            r[0] for r in c.execute("SELECT item_pk FROM verdicts WHERE annotator_id=?", (who.id,))
        }
        spans = {
            r[0]
            for r in c.execute("SELECT DISTINCT item_pk FROM spans WHERE annotator_id=?", (who.id,))
        }
        return {
            r["pk"]: "clean" if r["pk"] in clean else "hallucinated" if r["pk"] in spans else "todo"
            for r in self.items()
        }

    # ------------------------------------------------------------------ everything, for reports

    def judgements(self) -> dict[str, dict[str, dict[str, Any]]]:
        """item_id -> annotator name -> {"status": clean|hallucinated, "spans": [...]}."""
        c = self._conn()
        names = {a.id: a.name for a in self.annotators()}
        ids = {r["pk"]: r["item_id"] for r in self.items()}
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for r in c.execute("SELECT item_pk, annotator_id FROM verdicts"):
            out.setdefault(ids[r[0]], {})[names[r[1]]] = {"status": "clean", "spans": []}
        for r in c.execute("SELECT * FROM spans ORDER BY item_pk, annotator_id, start, id"):
            j = out.setdefault(ids[r["item_pk"]], {}).setdefault(
                names[r["annotator_id"]], {"status": "hallucinated", "spans": []}
            )
            j["spans"].append(
                {
                    "start": r["start"],
                    "end": r["end"],
                    "text": r["text"],
                    "type": r["type"],
                    "correction": r["correction"],
                }
            )
        return out

    def csrf_secret(self) -> str:
        return self.meta()["csrf_secret"]
