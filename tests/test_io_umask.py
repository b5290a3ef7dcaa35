"""Output files get the mode a plain ``open()``/``mkdir()`` gives (the umask's), not tempfile's 0600.

Each case runs in a subprocess: the umask is process-wide and ``halbench.io`` reads it once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = ROOT / "leaderboard" / "entries"
DEMO_ITEMS = ROOT / "benchmarks" / "demo" / "items.jsonl"

SCRIPT = r"""
import json, os, sys
from pathlib import Path
os.umask(int(sys.argv[1], 8))
from halbench.cli import main
from halbench.io import atomic_write_text, make_temp_dir

work = Path(sys.argv[2])
assert main(["-q", "run", "--model", f"replay:{work / 'answers-in.jsonl'}",
             "--benchmarks", "demo", "--out", str(work / "out")]) == 0
assert main(["-q", "leaderboard", "build", "--entries", sys.argv[3],
             "--runs", str(work / "out"), "--out", str(work / "site")]) == 0
atomic_write_text(work / "plain.txt", "x")
make_temp_dir(work, "t-")
print(json.dumps({str(p.relative_to(work)): oct(p.stat().st_mode & 0o777)
                  for p in sorted(work.rglob("*"))}))
"""


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [("022", 0o644, 0o755), ("077", 0o600, 0o700)]
)
def test_outputs_follow_the_umask(tmp_path, umask, file_mode, dir_mode):
    items = [json.loads(x) for x in DEMO_ITEMS.read_text().splitlines()]
    (tmp_path / "answers-in.jsonl").write_text(
        "".join(json.dumps({"item_id": x["id"], "text": "A dog and a cat."}) + "\n" for x in items)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, umask, str(tmp_path), str(ENTRIES)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modes = {k: int(v, 8) for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
    modes.pop("answers-in.jsonl")  # written by the test
    wanted = [
        "out/demo/answers.jsonl",
        "out/demo/result.json",
        "site",
        "site/index.html",
        "site/assets/style.css",
        "site/models",
        "site/records",
        "plain.txt",
    ]
    assert all(w in modes for w in wanted), sorted(modes)
    assert any(k.startswith("site/models/") for k in modes)
    assert any(k.startswith("site/records/") for k in modes)
    assert any(k.startswith("t-") for k in modes)
    for path, mode in modes.items():
        is_dir = (tmp_path / path).is_dir()
        assert mode == (dir_mode if is_dir else file_mode), (path, oct(mode))
    # nothing left over next to the site or the run
    assert not [k for k in modes if Path(k).name.startswith(".")], sorted(modes)
