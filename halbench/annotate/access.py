"""Who may annotate: personal links, sign-in sessions, revocation, link expiry.

Two secrets per annotator, both random (``secrets.token_urlsafe(32)``) and both stored only
as their sha256:

- the **link token** (``annotators.token_sha256``) is in the personal link
  ``/login/<token>``; it is shown once by ``add-annotator`` and may expire
  (``annotators.link_expires_at``, from ``--link-days``);
- a **session token** (``sessions``) is made at each sign-in and kept in the browser's cookie;
  the link token never is. Signing out deletes that session; a session ends after
  ``SESSION_DAYS`` or when the link expires, whichever comes first.

``revoke`` marks the annotator revoked (``annotators.revoked_at``) and deletes all their
sessions in one transaction: the link and every open tab stop working at once. Their
judgements stay in the store (they were made while access was valid). ``new_link`` replaces
the link (the old one stops working, sessions end) and lifts a revocation.

Every check and the write it guards are one ``BEGIN IMMEDIATE`` transaction (a revocation
cannot slip between the link check and the new session). The store class mixes this in;
``migrate_access`` adds the columns and the table to a store made before they existed.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import secrets
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from halbench.errors import HalbenchError

#: a session lasts at most this long (and never past the link's expiry)
SESSION_DAYS = 90
#: the longest link lifetime ``--link-days`` accepts (ten years; no expiry: leave it out)
MAX_LINK_DAYS = 3650

_NEW_COLUMNS = {"link_expires_at": "TEXT", "revoked_at": "TEXT"}
_SESSIONS = (
    "CREATE TABLE IF NOT EXISTS sessions (token_sha256 TEXT PRIMARY KEY, "
    "annotator_id INTEGER NOT NULL REFERENCES annotators(id), created_at TEXT NOT NULL, "
    "expires_at TEXT NOT NULL)"
)


@dataclass(frozen=True)
class Annotator:
    id: int
    name: str


class SignInError(HalbenchError):
    """A link that does not sign in; ``status`` for HTTP (403 unknown, 401 revoked/expired)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def stamp(at: _dt.datetime) -> str:
    return at.astimezone(_dt.timezone.utc).isoformat(timespec="seconds")


def migrate_access(c: sqlite3.Connection) -> None:
    """Add what this module needs to a store made by older code (inside the caller's tx)."""
    have = {r[1] for r in c.execute("PRAGMA table_info(annotators)")}
    for column, decl in _NEW_COLUMNS.items():
        if column not in have:
            c.execute(f"ALTER TABLE annotators ADD COLUMN {column} {decl}")
    c.execute(_SESSIONS)
    c.execute("CREATE INDEX IF NOT EXISTS sessions_who ON sessions (annotator_id)")


class AnnotatorAccess:
    """Annotator links and sessions; mixed into ``AnnotationStore`` (which gives the rest)."""

    path: Path
    clock: Callable[[], _dt.datetime]
    _conn: Callable[[], sqlite3.Connection]
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _log: Callable[..., None]

    def add_annotator(self, name: str, link_days: float | None = None) -> str:
        """Create an annotator; return the link token (shown once; only its hash is stored)."""
        name = name.strip()
        if not name or len(name) > 100:
            raise HalbenchError("annotator name must be 1 to 100 characters")
        token = secrets.token_urlsafe(32)
        expires = self._link_expiry(link_days)
        with self._tx() as c:
            if c.execute("SELECT 1 FROM annotators WHERE name=?", (name,)).fetchone():
                raise HalbenchError(
                    f"annotator {name!r} already exists in {self.path} "
                    "(add-annotator --new-link replaces a lost or expired link)"
                )
            c.execute(
                "INSERT INTO annotators (name, token_sha256, created_at, link_expires_at) "
                "VALUES (?,?,?,?)",
                (name, hash_token(token), stamp(self.clock()), expires),
            )
            self._log(c, None, "add_annotator", None, name=name, link_expires_at=expires)
        return token

    def new_link(self, name: str, link_days: float | None = None) -> str:
        """A new link for an existing annotator: the old link and all sessions stop working."""
        token = secrets.token_urlsafe(32)
        expires = self._link_expiry(link_days)
        with self._tx() as c:
            who = self._named(c, name)
            c.execute(
                "UPDATE annotators SET token_sha256=?, link_expires_at=?, revoked_at=NULL "
                "WHERE id=?",
                (hash_token(token), expires, who.id),
            )
            c.execute("DELETE FROM sessions WHERE annotator_id=?", (who.id,))
            self._log(c, None, "new_link", None, name=who.name, link_expires_at=expires)
        return token

    def revoke(self, name: str) -> tuple[int, bool]:
        """Revoke an annotator's link and end their sessions: (sessions ended, was revoked)."""
        with self._tx() as c:
            who = self._named(c, name)
            was = c.execute("SELECT revoked_at FROM annotators WHERE id=?", (who.id,)).fetchone()
            if was[0] is None:
                c.execute(
                    "UPDATE annotators SET revoked_at=? WHERE id=?", (stamp(self.clock()), who.id)
                )
            ended = c.execute("DELETE FROM sessions WHERE annotator_id=?", (who.id,)).rowcount
            self._log(c, None, "revoke", None, name=who.name, sessions_ended=ended)
        return ended, was[0] is not None

    def link_annotator(self, token: str) -> Annotator:
        """The annotator a link signs in, or ``SignInError`` saying why not."""
        return self._check_link(self._conn(), token)

    def annotator_by_token(self, token: str) -> Annotator | None:
        """The annotator of a valid (not revoked, not expired) link token, else None."""
        try:
            return self.link_annotator(token)
        except SignInError:
            return None

    def sign_in(self, token: str) -> tuple[Annotator, str, _dt.datetime]:
        """Check a link and open a session: (who, session token, session expiry), atomically."""
        session = secrets.token_urlsafe(32)
        now = self.clock()
        with self._tx() as c:
            who = self._check_link(c, token)
            expires = now + _dt.timedelta(days=SESSION_DAYS)
            row = c.execute(
                "SELECT link_expires_at FROM annotators WHERE id=?", (who.id,)
            ).fetchone()
            if row[0] is not None:
                expires = min(expires, _dt.datetime.fromisoformat(row[0]))
            c.execute(
                "DELETE FROM sessions WHERE annotator_id=? AND expires_at<=?", (who.id, stamp(now))
            )  # tidy: this annotator's ended sessions
            c.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?)",
                (hash_token(session), who.id, stamp(now), stamp(expires)),
            )
            self._log(c, who.id, "sign_in", None)
        return who, session, expires

    def annotator_by_session(self, session: str) -> Annotator | None:
        """The annotator of a live session (not signed out, revoked or expired), else None."""
        row = (
            self._conn()
            .execute(
                "SELECT a.id, a.name, a.revoked_at, s.expires_at FROM sessions s "
                "JOIN annotators a ON a.id=s.annotator_id WHERE s.token_sha256=?",
                (hash_token(session),),
            )
            .fetchone()
        )
        if row is None or row[2] is not None:
            return None
        if _dt.datetime.fromisoformat(row[3]) <= self.clock():
            return None
        return Annotator(row[0], row[1])

    def end_session(self, session: str) -> bool:
        """Sign out: delete the session (its cookie stops working); False if there was none."""
        with self._tx() as c:
            row = c.execute(
                "SELECT annotator_id FROM sessions WHERE token_sha256=?", (hash_token(session),)
            ).fetchone()
            if row is None:
                return False
            c.execute("DELETE FROM sessions WHERE token_sha256=?", (hash_token(session),))
            self._log(c, row[0], "sign_out", None)
        return True

    def annotators(self) -> list[Annotator]:
        rows = self._conn().execute("SELECT id, name FROM annotators ORDER BY id").fetchall()
        return [Annotator(r[0], r[1]) for r in rows]

    def access(self) -> list[dict[str, Any]]:
        """Every annotator's access: name, link expiry, revoked, live sessions."""
        now = stamp(self.clock())
        rows = self._conn().execute(
            "SELECT a.name, a.link_expires_at, a.revoked_at, (SELECT COUNT(*) FROM sessions s "
            "WHERE s.annotator_id=a.id AND s.expires_at>?) FROM annotators a ORDER BY a.id",
            (now,),
        )
        return [
            {"name": r[0], "link_expires_at": r[1], "revoked_at": r[2], "sessions": r[3]}
            for r in rows
        ]

    # ------------------------------------------------------------------ helpers

    def _link_expiry(self, link_days: float | None) -> str | None:
        if link_days is None:
            return None
        if not 0 < link_days <= MAX_LINK_DAYS:  # also refuses nan
            raise HalbenchError(
                f"--link-days must be more than 0 and at most {MAX_LINK_DAYS} (got {link_days})"
            )
        return stamp(self.clock() + _dt.timedelta(days=link_days))

    def _named(self, c: sqlite3.Connection, name: str) -> Annotator:
        row = c.execute("SELECT id, name FROM annotators WHERE name=?", (name.strip(),)).fetchone()
        if row is None:
            names = [r[0] for r in c.execute("SELECT name FROM annotators ORDER BY id")]
            raise HalbenchError(
                f"no annotator {name!r} in {self.path} "
                f"(annotators: {', '.join(names) if names else 'none'})"
            )
        return Annotator(row[0], row[1])

    def _check_link(self, c: sqlite3.Connection, token: str) -> Annotator:
        row = c.execute(
            "SELECT id, name, link_expires_at, revoked_at FROM annotators WHERE token_sha256=?",
            (hash_token(token),),
        ).fetchone()
        if row is None:
            raise SignInError("This link is not valid.", 403)
        if row[3] is not None:
            raise SignInError(
                "This link has been revoked: ask whoever runs the annotation for a new one.", 401
            )
        if row[2] is not None and _dt.datetime.fromisoformat(row[2]) <= self.clock():
            raise SignInError(
                f"This link expired on {row[2][:16].replace('T', ' ')} UTC: ask whoever runs "
                "the annotation for a new one.",
                401,
            )
        return Annotator(row[0], row[1])
