"""The annotation app: human judgement of hallucinations (MHumanEval) and corrections for DDPO.

- ``store``: the SQLite store (WAL; items, annotators, judgements, spans, an audit log);
- ``access``: links, sign-in sessions, revocation, link expiry (mixed into the store);
- ``load``: a ``halbench run`` output directory -> items in the store (idempotent);
- ``app``: the Flask web app (token links, CSRF, escaped model text); needs ``[annotate]``;
- ``report``: MHumanEval rates, intervals, agreement -> a ``ResultRecord``;
- ``agreement``: Wilson intervals, Cohen's and Fleiss' kappa, span overlap F1 (pure);
- ``export``: preference pairs in the DDPO interchange JSONL;
- ``prepare``: ``halbench data prepare mhumaneval`` (the 146 items).

Only ``app`` imports Flask, so everything else works without the extra.
"""

from __future__ import annotations

#: the segment types (the paper names object, position, number and others; attribute
#: and action are halbench's finer split of "others", reported separately and in All)
TYPES = ("object", "position", "number", "attribute", "action", "other")
