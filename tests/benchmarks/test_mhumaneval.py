"""``halbench data prepare mhumaneval``: 50 Object HalBench items (git-blob verified) + MMHal's 96."""

from __future__ import annotations

import base64
import json

import pytest

import halbench.prepare as data
from halbench.cli import main
from halbench.errors import HalbenchError, InputError
from halbench.registry import get_benchmark

TEMPLATE = get_benchmark("mhumaneval").resolve(
    "benchmark:mmhal-bench/data/mmhal-bench_answer_template.json"
)
PNG = (get_benchmark("demo").folder / "images" / "clock.png").read_bytes()


@pytest.fixture
def objhal50(tmp_path):
    path = tmp_path / "obj_halbench_mhumaneval_data_with_image.jsonl"
    lines = [
        json.dumps(
            {
                "image_id": 100 + i,
                "question": f"Describe image {i}.",
                "image": base64.b64encode(PNG).decode(),
            }
        )
        for i in range(50)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def mmhal_images(tmp_path):
    folder = tmp_path / "MMHal-Bench" / "images"
    folder.mkdir(parents=True)
    for i, rec in enumerate(json.loads(TEMPLATE.read_text())):
        # both namings: the image_src file name, or <image_id>.png
        name = rec["image_src"].rsplit("/", 1)[-1] if i % 2 else f"{rec['image_id']}.png"
        (folder / name).write_bytes(PNG)
    return folder.parent


def test_prepare_146_items(objhal50, mmhal_images, tmp_path):
    blob = data.git_blob_sha1(objhal50)
    target = data.prepare(
        "mhumaneval",
        data_dir=tmp_path / "d",
        source=objhal50,
        images=mmhal_images,
        expected_blob=blob,
    )
    items = get_benchmark("mhumaneval").load_items(tmp_path / "d")
    assert len(items) == 146
    assert [it.id for it in items[:2]] == ["objhal-00", "objhal-01"] and items[50].id == "mmhal-00"
    assert sum(it.fields["source"] == "object-halbench" for it in items) == 50
    assert sum(it.fields["source"] == "mmhal-bench" for it in items) == 96
    template = json.loads(TEMPLATE.read_text())
    assert [it.question for it in items[50:]] == [r["question"] for r in template]
    assert items[0].image_id == 100 and items[0].image.read_bytes() == PNG
    assert items[51].fields["question_type"] == template[1]["question_type"]
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["source"]["object_halbench"]["verified_git_blob"] == blob


def test_the_official_blob_is_checked(objhal50, mmhal_images, tmp_path):
    with pytest.raises(InputError, match=r"git blob [0-9a-f]{40} is not the expected 8a5ee73ff9bf"):
        data.prepare("mhumaneval", data_dir=tmp_path / "d", source=objhal50, images=mmhal_images)
    assert not (tmp_path / "d" / "mhumaneval").exists()


def test_clear_errors(objhal50, mmhal_images, tmp_path, monkeypatch, capsys):
    with pytest.raises(HalbenchError, match="--images DIR"):
        data.prepare("mhumaneval", data_dir=tmp_path / "d", source=objhal50)
    (mmhal_images / "images" / "df62a56fdc1bb12b.png").unlink()  # template item #0
    with pytest.raises(
        InputError,
        match=r"1 of 96 MMHal-Bench images not found:\n  #0: 7206072054_c53d53b97d_o.jpg",
    ):
        data.prepare("mhumaneval", data_dir=tmp_path / "d", source=objhal50, images=mmhal_images)
    (mmhal_images / "images" / "df62a56fdc1bb12b.png").write_bytes(PNG)
    with pytest.raises(
        HalbenchError,
        match=r"RLHF-V/RLAIF-V eval/data/obj_halbench_mhumaneval_data_with_image.jsonl \(git blob 8a5ee73f.*pass that file with --from PATH",
    ):
        data.prepare("mhumaneval", data_dir=tmp_path / "d", images=mmhal_images, offline=True)

    def no_network(url, dest, **kw):
        raise HalbenchError(f"could not download {url}: <urlopen error network unreachable>")

    monkeypatch.setattr(data, "download", no_network)
    code = main(
        [
            "-q",
            "data",
            "prepare",
            "mhumaneval",
            "--data-dir",
            str(tmp_path / "d"),
            "--images",
            str(mmhal_images),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert (
        "Offline? Download https://raw.githubusercontent.com/RLHF-V/RLAIF-V/" in err
        and "--from PATH" in err
    )


def test_run_leaves_it_to_people(objhal50, mmhal_images, tmp_path):
    from halbench import scorers

    bench = get_benchmark("mhumaneval")
    scorers.check_scorer(bench)  # runnable; scoring is human
    assert "halbench annotate serve" in bench.scorer_module().REASON


def test_a_run_of_mhumaneval_annotated_and_on_the_leaderboard(objhal50, mmhal_images, tmp_path):
    """Prepared data -> a run's answers -> the app's store -> MHumanEval record -> leaderboard."""
    from pathlib import Path

    from halbench.annotate.load import load_run
    from halbench.annotate.report import build_report
    from halbench.annotate.store import AnnotationStore
    from halbench.leaderboard.build import build_tables

    data.prepare(
        "mhumaneval",
        data_dir=tmp_path / "d",
        source=objhal50,
        images=mmhal_images,
        expected_blob=data.git_blob_sha1(objhal50),
    )
    items = get_benchmark("mhumaneval").load_items(tmp_path / "d")
    run = tmp_path / "run" / "mhumaneval"
    run.mkdir(parents=True)
    answer = "There are three dogs on the left of a red car."
    run.joinpath("answers.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "item_id": it.id,
                    "question": it.question,
                    "answer": answer,
                    "source": it.fields["source"],
                }
            )
            + "\n"
            for it in items
        )
    )
    run.joinpath("result.json").write_text(
        json.dumps({"model": {"backend": "replay", "model": "m"}})
    )
    loaded = load_run(tmp_path / "run", data_dir=tmp_path / "d")
    assert loaded.total == 146
    store = AnnotationStore(loaded.db)
    store.add_annotator("alice")
    (alice,) = store.annotators()
    pks = {r["item_id"]: r["pk"] for r in store.items()}
    for k, it in enumerate(items):
        if k % 2:  # every other response: "three" is a number hallucination
            store.add_span(pks[it.id], alice, 10, 15, "number", "two")
        else:
            store.set_verdict(pks[it.id], alice, True)
    store.close()
    record = build_report(loaded.db)
    assert record.benchmark == "mhumaneval" and record.protocol["scorer"] == "mhumaneval"
    assert record.metrics["counts"]["number"] == 73 and record.metrics["n"] == 146
    assert record.metrics["by_source"]["mmhal-bench"]["counts"]["all"] == 48  # odd k among 50..145
    assert record.metrics["by_source"]["object-halbench"]["n"] == 50
    (run / "mhumaneval.json").write_text(record.to_json())
    entries = Path(__file__).resolve().parents[2] / "leaderboard" / "entries"
    tables, _ = build_tables(entries, [tmp_path / "run"])
    main_table = next(t for t in tables if t.name == "main")
    (row,) = [r for r in main_table.rows if r.kind == "our run"]
    assert row.cells["mhumaneval_number"].value == pytest.approx(50.0)
    assert row.cells["mhumaneval_all"].value == pytest.approx(50.0)
    assert row.cells["mhumaneval_object"].value == 0.0
    ci = row.cells["mhumaneval_all"].ci
    assert ci is not None and ci[0] < 50.0 < ci[1]
