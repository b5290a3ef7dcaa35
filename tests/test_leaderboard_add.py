"""``leaderboard add A B``: the destination is checked, every record validated, then all or none."""

from __future__ import annotations

import json
import shutil

import pytest

from halbench.cli import main
from halbench.errors import InputError
from halbench.leaderboard import add_records

from .leaderboard_helpers import ENTRIES, write_record


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("coco-cache")


@pytest.fixture
def entries(tmp_path):
    dest = tmp_path / "entries"
    shutil.copytree(ENTRIES, dest, ignore=shutil.ignore_patterns("runs"))
    return dest


def add(argv, capsys):
    code = main(["-q", "leaderboard", "add", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_add_two(tmp_path, entries, cache_root, capsys):
    a = write_record(tmp_path / "a.json", "org/a", cache_root=cache_root)
    b = write_record(tmp_path / "b.json", "org/b", cache_root=cache_root)
    code, out, err = add([a, b, "--entries", entries], capsys)
    assert code == 0 and err == ""
    added = sorted((entries / "runs").iterdir())
    assert len(added) == 2 and out.count("added ") == 2
    assert all(str(p) in out for p in added)
    assert [p.name for p in entries.iterdir() if p.name.startswith(".")] == []  # no staging left
    # adding the same records again is harmless (same names, same contents)
    assert add([a, b, "--entries", entries], capsys)[0] == 0
    assert sorted((entries / "runs").iterdir()) == added


def test_bad_second_record_adds_nothing(tmp_path, entries, cache_root, capsys):
    a = write_record(tmp_path / "a.json", "org/a", cache_root=cache_root)
    b = tmp_path / "b.json"
    b.write_text(json.dumps({"benchmark": "pope"}))
    code, out, err = add([a, b, "--entries", entries], capsys)
    assert code == 1 and "b.json: not a halbench result record" in err and "Traceback" not in err
    assert not (entries / "runs").exists() or list((entries / "runs").iterdir()) == []
    with pytest.raises(InputError, match=r"nope\.json: file not found"):
        add_records([a, tmp_path / "nope.json"], entries)
    assert not (entries / "runs").exists() or list((entries / "runs").iterdir()) == []


def test_unusable_destination_is_one_line(tmp_path, entries, cache_root, capsys):
    a = write_record(tmp_path / "a.json", "org/a", cache_root=cache_root)
    code, _, err = add([a, "--entries", tmp_path / "missing"], capsys)
    assert code == 1 and "leaderboard entries directory not found" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "missing").exists()
    (tmp_path / "afile").write_text("x")
    code, _, err = add([a, "--entries", tmp_path / "afile"], capsys)
    assert code == 1 and "leaderboard entries directory is not a folder" in err
    (entries / "runs").write_text("not a folder")
    code, _, err = add([a, "--entries", entries], capsys)
    assert code == 1 and "runs: exists and is not a folder" in err and "Traceback" not in err
    # the destination is checked before the records: a bad record and a bad destination
    # report the destination
    code, _, err = add([tmp_path / "nope.json", "--entries", tmp_path / "missing"], capsys)
    assert code == 1 and "entries directory not found" in err


def test_two_different_records_for_one_file(tmp_path, entries, cache_root):
    a = write_record(tmp_path / "a.json", "org/a", cache_root=cache_root)
    b = write_record(tmp_path / "b.json", "org/a", cache_root=cache_root, CHAIRi=0.5)
    with pytest.raises(InputError, match=r"b\.json: same model, benchmark and date as .*a\.json"):
        add_records([a, b], entries)
    assert not (entries / "runs").exists() or list((entries / "runs").iterdir()) == []


def test_look_alike_models_get_their_own_files(tmp_path, entries, cache_root):
    a = write_record(tmp_path / "a.json", "org/model v1", cache_root=cache_root)
    b = write_record(tmp_path / "b.json", "org/model:v1", cache_root=cache_root)
    added = add_records([a, b], entries)
    assert len(set(added)) == 2 and all(p.exists() for p in added)
