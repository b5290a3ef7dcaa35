"""Run ``halbench`` with an injected fault on one rank, for tests/test_run_distributed.py only.

``HALBENCH_TEST_DIST_FAULT``: ``fail:R`` (rank R's model leaves every other item of its share
unanswered, with a reason), ``crash:R:N`` (rank R dies after storing N answers), ``hang:R``
(rank R stops answering). ``HALBENCH_TEST_DIST_TIMEOUT``: the ranks' wait limit in seconds.
Everything else is halbench's unmodified code. Usage: ``python tests/dist_run_launch.py -q run ...``
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def _patch() -> None:
    from halbench import distributed
    from halbench.runners.hf import HFRunner

    if os.environ.get("HALBENCH_TEST_DIST_TIMEOUT"):
        distributed.DEFAULT_TIMEOUT_S = float(os.environ["HALBENCH_TEST_DIST_TIMEOUT"])
    fault = os.environ.get("HALBENCH_TEST_DIST_FAULT", "")
    kind, _, rest = fault.partition(":")
    rank, _, count = rest.partition(":")
    if not kind or int(rank) != int(os.environ.get("RANK", "0")):
        return
    generate = HFRunner.generate

    def faulty(self, requests, settings, *, batch_size):  # type: ignore[no-untyped-def]
        if kind == "hang":
            time.sleep(3600)
        done = 0
        for n, (key, text) in enumerate(generate(self, requests, settings, batch_size=batch_size)):
            if kind == "fail" and n % 2 == 1:
                self.failures[key] = "injected failure on this rank"
                continue
            yield key, text
            done += 1
            if kind == "crash" and done >= int(count):  # resumed: the N-th answer is stored
                os._exit(9)

    HFRunner.generate = faulty  # type: ignore[method-assign]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    _patch()
    from halbench.cli import main

    raise SystemExit(main(sys.argv[1:]))
