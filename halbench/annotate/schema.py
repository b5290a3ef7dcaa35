"""The annotation store's tables (see ``store`` for what each holds)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  pk INTEGER PRIMARY KEY, item_id TEXT NOT NULL UNIQUE, position INTEGER NOT NULL,
  question TEXT NOT NULL, answer TEXT NOT NULL, image TEXT, fields TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS annotators (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_sha256 TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS verdicts (
  item_pk INTEGER NOT NULL REFERENCES items(pk), annotator_id INTEGER NOT NULL REFERENCES annotators(id),
  verdict TEXT NOT NULL CHECK (verdict IN ('clean')), updated_at TEXT NOT NULL,
  PRIMARY KEY (item_pk, annotator_id));
CREATE TABLE IF NOT EXISTS spans (
  id INTEGER PRIMARY KEY, item_pk INTEGER NOT NULL REFERENCES items(pk),
  annotator_id INTEGER NOT NULL REFERENCES annotators(id),
  start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, type TEXT NOT NULL,
  correction TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS spans_item ON spans (item_pk, annotator_id);
CREATE TABLE IF NOT EXISTS judge_items (
  item_pk INTEGER NOT NULL REFERENCES items(pk), judge TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('labelled', 'failed')), error TEXT, reply TEXT,
  created_at TEXT NOT NULL, PRIMARY KEY (item_pk, judge));
CREATE TABLE IF NOT EXISTS proposals (
  id INTEGER PRIMARY KEY, item_pk INTEGER NOT NULL REFERENCES items(pk), judge TEXT NOT NULL,
  start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, type TEXT NOT NULL,
  correction TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
  proposal_id INTEGER NOT NULL REFERENCES proposals(id),
  annotator_id INTEGER NOT NULL REFERENCES annotators(id),
  decision TEXT NOT NULL CHECK (decision IN ('accepted', 'rejected')), span_id INTEGER,
  at TEXT NOT NULL, PRIMARY KEY (proposal_id, annotator_id));
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, annotator_id INTEGER, action TEXT NOT NULL,
  item_pk INTEGER, payload TEXT NOT NULL);
"""
