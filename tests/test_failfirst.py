"""Every command that writes checks its destination before slow work: one line, exit 1.

Run as root here, so an unwritable folder cannot be made with mode bits; the three bad
destinations are: a path under a regular file, a path that is a folder (for a file flag)
or a file (for a folder flag), and a path two levels under a file (a missing parent that
cannot be created).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from halbench.cli import build_parser, main
from halbench.cli.score import scorable
from halbench.destinations import check_writable_dir, check_writable_file
from halbench.errors import InputError

from .fake_openai import FakeOpenAI

KINDS = ("under-a-file", "wrong-kind", "parent-under-a-file")


def bad_file_dest(tmp: Path, kind: str) -> Path:
    """A file destination that cannot be written."""
    (tmp / "plain").write_text("x")
    (tmp / "a-folder").mkdir(exist_ok=True)
    return {
        "under-a-file": tmp / "plain" / "out.json",
        "wrong-kind": tmp / "a-folder",
        "parent-under-a-file": tmp / "plain" / "sub" / "out.json",
    }[kind]


def bad_dir_dest(tmp: Path, kind: str) -> Path:
    """A folder destination that cannot be used or made."""
    (tmp / "plain").write_text("x")
    return {
        "under-a-file": tmp / "plain" / "out",
        "wrong-kind": tmp / "plain",
        "parent-under-a-file": tmp / "plain" / "sub" / "out",
    }[kind]


def assert_one_line(capsys, code: int, path: Path, flag: str) -> None:
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 1, captured
    assert len(err) == 1 and err[0].startswith("halbench: error: "), err
    assert str(path) in err[0] and flag in err[0], err[0]
    assert "Traceback" not in captured.err


# --------------------------------------------------------------------------- the helpers


@pytest.mark.parametrize("kind", KINDS)
def test_check_writable_file_rejects(tmp_path, kind):
    path = bad_file_dest(tmp_path, kind)
    with pytest.raises(InputError) as err:
        check_writable_file(path, "--output")
    assert str(path) in str(err.value) and "--output" in str(err.value)


@pytest.mark.parametrize("kind", KINDS)
def test_check_writable_dir_rejects(tmp_path, kind):
    path = bad_dir_dest(tmp_path, kind)
    with pytest.raises(InputError) as err:
        check_writable_dir(path, "--out")
    assert str(path) in str(err.value) and "--out" in str(err.value)


def test_checks_accept_usable_destinations_and_create_nothing(tmp_path):
    before = sorted(tmp_path.rglob("*"))
    check_writable_file(tmp_path / "new" / "deeper" / "out.json", "--output")
    check_writable_dir(tmp_path / "new" / "deeper", "--out")
    (tmp_path / "old.json").write_text("{}")
    check_writable_file(tmp_path / "old.json", "--output")  # replaced atomically later
    check_writable_dir(tmp_path, "--out")
    check_writable_file("relative.json", "--output")  # the working directory
    assert sorted(tmp_path.rglob("*")) == before + [tmp_path / "old.json"]


# --------------------------------------------------------------------------- commands


def required_flags(argv: list[str]) -> list[str]:
    """Values for every required option of a subcommand: files that do not exist."""
    parser = build_parser(argv)
    for word in argv:
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = sub.choices[word]
    out = []
    for action in parser._actions:
        if action.required and action.option_strings and action.dest != "output":
            value = action.choices[0] if action.choices else "/nonexistent/in.jsonl"
            out += [action.option_strings[0], str(value)]
    return out


@pytest.mark.parametrize("name", [b.name for b in scorable()])
@pytest.mark.parametrize("kind", KINDS)
def test_score_checks_output_first(name, kind, tmp_path, capsys):
    dest = bad_file_dest(tmp_path, kind)
    argv = ["score", name]
    code = main(["-q", *argv, *required_flags(argv), "--output", str(dest)])
    assert_one_line(capsys, code, dest, "--output")  # not the missing answer file


@pytest.mark.parametrize("kind", KINDS)
def test_judged_score_with_a_bad_output_sends_no_judge_call(kind, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-failfirst-test-key-1")
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        "".join(json.dumps({"question_id": i, "text": "An answer."}) + "\n" for i in range(90))
    )
    dest = bad_file_dest(tmp_path, kind)
    with FakeOpenAI() as server:
        server.reply = lambda text: "8 8\nfine."
        code = main(
            [
                "-q",
                "score",
                "llava-bench",
                "--answers",
                str(answers),
                "--judge-model",
                "judge-x",
                "--judge-base-url",
                server.url,
                "--judge-no-cache",
                "--output",
                str(dest),
            ]
        )
        assert server.requests == []
    assert_one_line(capsys, code, dest, "--output")


@pytest.mark.parametrize("kind", KINDS)
def test_run_checks_out_before_the_model(kind, tmp_path, capsys):
    dest = bad_dir_dest(tmp_path, kind)
    code = main(["-q", "run", "--model", "replay:/nonexistent.jsonl", "--out", str(dest)])
    assert_one_line(capsys, code, dest, "--out")


@pytest.mark.parametrize("kind", KINDS)
def test_demo_checks_out(kind, tmp_path, capsys):
    dest = bad_dir_dest(tmp_path, kind)
    assert_one_line(capsys, main(["-q", "demo", "--out", str(dest)]), dest, "--out")


@pytest.mark.parametrize("kind", KINDS)
def test_data_prepare_checks_data_dir(kind, tmp_path, capsys):
    dest = bad_dir_dest(tmp_path, kind)
    argv = ["data", "prepare", "pope"]
    code = main(["-q", *argv, *required_flags(argv), "--data-dir", str(dest)])
    assert_one_line(capsys, code, dest, "--data-dir")


@pytest.mark.parametrize("kind", KINDS)
def test_export_checks_output(kind, tmp_path, capsys):
    dest = bad_file_dest(tmp_path, kind)
    argv = ["export", "vqav2-testdev"]
    code = main(["-q", *argv, *required_flags(argv), "--output", str(dest)])
    assert_one_line(capsys, code, dest, "--output")


@pytest.mark.parametrize("kind", KINDS)
def test_leaderboard_build_checks_out_before_reading(kind, tmp_path, capsys):
    dest = bad_dir_dest(tmp_path, kind)
    code = main(["-q", "leaderboard", "build", "--entries", "/nonexistent", "--out", str(dest)])
    assert_one_line(capsys, code, dest, "--out")


@pytest.mark.parametrize("kind", KINDS)
def test_leaderboard_add_checks_entries(kind, tmp_path, capsys):
    dest = bad_dir_dest(tmp_path, kind)
    code = main(["-q", "leaderboard", "add", "/nonexistent.json", "--entries", str(dest)])
    assert_one_line(capsys, code, dest, "--entries")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", ["report", "export-ddpo"])
def test_annotate_checks_output_before_the_store(command, kind, tmp_path, capsys):
    dest = bad_file_dest(tmp_path, kind)
    code = main(["-q", "annotate", command, "--db", "/nonexistent.sqlite", "--output", str(dest)])
    assert_one_line(capsys, code, dest, "--output")


@pytest.mark.parametrize("kind", KINDS)
def test_annotate_report_checks_the_default_output_folder(kind, tmp_path, capsys):
    folder = bad_dir_dest(tmp_path, kind)
    db = folder / "annotations.sqlite"
    code = main(["-q", "annotate", "report", "--db", str(db)])
    assert_one_line(capsys, code, folder, "--output")


@pytest.mark.parametrize("kind", KINDS)
def test_train_ddpo_checks_out_before_the_model(kind, tmp_path, capsys, monkeypatch):
    import reference_models.rlhfv.trainer as trainer

    def no_training(*a, **k):
        raise AssertionError("train() reached with an unusable --out")

    monkeypatch.setattr(trainer, "train", no_training)
    dest = bad_dir_dest(tmp_path, kind)
    code = main(["-q", "train", "ddpo", "--config", "tiny", "--out", str(dest)])
    assert_one_line(capsys, code, dest, "--out")


def test_leaderboard_add_names_entries_when_runs_is_a_file(tmp_path, capsys):
    entries = tmp_path / "entries"
    entries.mkdir()
    (entries / "runs").write_text("x")
    code = main(["-q", "leaderboard", "add", "/nonexistent.json", "--entries", str(entries)])
    assert_one_line(capsys, code, entries / "runs", "--entries")


def test_a_destination_broken_during_the_work_is_still_one_error(tmp_path):
    """Checked first; if the destination breaks while scoring, the write is an InputError too."""
    from halbench.cli.common import emit_record

    class Rec:
        def to_json(self):
            return "{}"

    (tmp_path / "later").write_text("now a file")
    with pytest.raises(InputError, match="cannot write --output"):
        emit_record(Rec(), tmp_path / "later" / "out.json", "table")
