"""Annotation app: saved span writes per second through the real HTTP server, 1 vs 2 vs 4
annotators writing at once (each write is its own committed SQLite transaction), every write
checked to be in the store afterwards; and the report's time on 146 items x 3 annotators.

Usage: python perf/bench_annotate.py [--writes 300]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from halbench.annotate.app import COOKIE, csrf_token, serve  # noqa: E402
from halbench.annotate.report import build_report  # noqa: E402
from halbench.annotate.store import AnnotationStore, hash_token  # noqa: E402

ANSWER = "The image shows two dogs and a red car parked next to a tall building. " * 6


def _store(path: Path, n_items: int) -> AnnotationStore:
    store = AnnotationStore(path)
    store.add_items(
        [
            {"item_id": f"i{i:03d}", "question": "Describe the image.", "answer": ANSWER}
            for i in range(n_items)
        ]
    )
    return store


def _writes(port: int, token: str, csrf: str, jobs: list[tuple[int, int]]) -> int:
    ok = 0
    for pk, start in jobs:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = json.dumps({"start": start, "end": start + 2, "type": "object", "correction": "x"})
        conn.request(
            "POST",
            f"/api/items/{pk}/spans",
            body=body,
            headers={
                "Cookie": f"{COOKIE}={token}",
                "X-CSRF-Token": csrf,
                "Content-Type": "application/json",
            },
        )
        ok += conn.getresponse().status == 201
        conn.close()
    return ok


def bench_writes(n_annotators: int, total: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "a.sqlite"
        store = _store(db, 146)
        links = [store.add_annotator(f"a{i}") for i in range(n_annotators)]
        tokens = [store.sign_in(link)[1] for link in links]  # the session cookies
        csrfs = [csrf_token(store, hash_token(t)) for t in tokens]
        store.close()
        server = serve(db, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        per = total // n_annotators
        jobs = [(1 + (k % 146), 3 * (k // 146)) for k in range(per)]
        results = [0] * n_annotators
        threads = [
            threading.Thread(
                target=lambda i=i: results.__setitem__(
                    i, _writes(server.port, tokens[i], csrfs[i], jobs)
                )
            )
            for i in range(n_annotators)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t0
        server.shutdown()
        server.server_close()
        store = AnnotationStore(db)
        landed = sum(
            len(j["spans"]) for per_item in store.judgements().values() for j in per_item.values()
        )
        store.close()
        assert sum(results) == landed == per * n_annotators, (results, landed)
        return landed / seconds


def bench_report() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "a.sqlite"
        store = _store(db, 146)
        for i in range(3):
            store.add_annotator(f"a{i}")
        for who in store.annotators():
            for pk in range(1, 147):
                if (pk + who.id) % 3:
                    store.add_span(pk, who, 4 * who.id, 4 * who.id + 3, "object", "y")
                else:
                    store.set_verdict(pk, who, True)
        store.close()
        t0 = time.perf_counter()
        build_report(db)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--writes", type=int, default=300)
    args = ap.parse_args()
    base = bench_writes(1, args.writes)
    print(f"span writes over HTTP, {args.writes} in all, every one verified in the store:")
    print(f"  1 annotator : {base:7.1f} writes/s  1.00x")
    for n in (2, 4):
        rate = bench_writes(n, args.writes)
        print(f"  {n} annotators: {rate:7.1f} writes/s  {rate / base:.2f}x")
    print(f"report on 146 items x 3 annotators: {bench_report():.3f} s")


if __name__ == "__main__":
    main()
