"""`halbench run` with real-model options: repeated flags, --tasks, --device checks,
--model-args, --device-map, vLLM data parallelism, several models, no load when stored."""

from __future__ import annotations

import json

import pytest

from halbench.cli import build_parser, main
from halbench.errors import HalbenchError
from halbench.run import RunConfig, run
from halbench.runners import BackendOptions
from halbench.runners.model_args import parse_model_args
from halbench.types import ResultRecord

from .test_vllm_contract import fake_vllm  # noqa: F401 - the stand-in vllm module fixture

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _usage_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_single_valued_flag_given_twice_is_an_error(capsys):
    err = _usage_error(
        ["run", "--model", "m", "--batch-size", "2", "--batch-size", "16", "--tasks", "demo"],
        capsys,
    )
    assert "argument --batch-size: given twice (2 and 16)" in err
    # --tasks is --benchmarks: giving both is giving it twice
    err = _usage_error(["run", "--model", "m", "--benchmarks", "demo", "--tasks", "pope"], capsys)
    assert "--benchmarks/--tasks: given twice (demo and pope)" in err
    # every command, not only run
    err = _usage_error(["score", "object-halbench", "--answers", "a", "--answers", "b"], capsys)
    assert "--answers: given twice" in err
    # the same parser parses again without remembering the previous command line
    parser = build_parser(["run"])
    for _ in range(2):
        args = parser.parse_args(["run", "--model", "m", "--batch-size", "4", "--tasks", "a,b"])
        assert args.batch_size == 4 and args.benchmarks == "a,b" and args.model == ["m"]
    # repeatable ones stay repeatable
    args = parser.parse_args(["run", "--model", "a", "--model", "b"])
    assert args.model == ["a", "b"]


def test_device_cuda_without_a_cuda_build_is_one_line_before_loading(
    tiny_model, monkeypatch, capsys
):
    import torch
    import transformers

    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None)

    def no_load(*a, **k):
        raise AssertionError("the config was read before the device was checked")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", no_load)
    code = main(["-q", "run", "--model", str(tiny_model), "--tasks", "demo", "--device", "cuda"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--device cuda: this torch" in err and "built without CUDA" in err


def test_device_cuda_with_a_cuda_build_but_no_gpu(monkeypatch):
    import types

    from halbench.runners.hf import check_device

    torch = types.SimpleNamespace(
        __version__="2.9.0+cu128",
        version=types.SimpleNamespace(cuda="12.8", hip=None),
        cuda=types.SimpleNamespace(is_available=lambda: True, device_count=lambda: 2),
    )
    check_device(torch, "cuda:1")
    with pytest.raises(HalbenchError, match=r"--device cuda:2: there are 2 CUDA device"):
        check_device(torch, "cuda:2")
    torch.cuda.is_available = lambda: False
    with pytest.raises(HalbenchError, match="sees no GPU"):
        check_device(torch, "cuda")


def test_model_args_are_parsed_and_checked():
    assert parse_model_args(
        "attn_implementation=sdpa, low_cpu_mem_usage=true,torch_dtype=float16"
    ) == {
        "attn_implementation": "sdpa",
        "low_cpu_mem_usage": True,
        "dtype": "float16",
    }
    assert parse_model_args(None) == {} and parse_model_args("") == {}
    bad = {
        "attn_implmentation=sdpa": "unknown key 'attn_implmentation'; did you mean attn_implementation?",
        "low_cpu_mem_usage=maybe": "low_cpu_mem_usage='maybe': expected true or false",
        "attn_implementation=fast": "expected one of eager, sdpa",
        "load_in_8bit": "is not key=value",
        "load_in_8bit=1,load_in_4bit=1": "exclude each other",
        "bnb_4bit_quant_type=nf4": "need load_in_4bit=true",
        "dtype=float16,torch_dtype=float16": "not both",
        "variant=a,variant=b": "variant given twice",
    }
    for text, message in bad.items():
        with pytest.raises(HalbenchError, match="--model-args: ") as exc:
            parse_model_args(text)
        assert message in str(exc.value), text


def _spy_from_pretrained(monkeypatch) -> list[dict]:
    from transformers import AutoModelForImageTextToText

    calls: list[dict] = []
    real = AutoModelForImageTextToText.from_pretrained

    def spy(*a, **kw):
        calls.append(kw)
        return real(*a, **kw)

    monkeypatch.setattr(AutoModelForImageTextToText, "from_pretrained", spy)
    return calls


def test_model_args_and_device_map_reach_from_pretrained_and_the_record(
    tiny_model, tmp_path, monkeypatch
):
    calls = _spy_from_pretrained(monkeypatch)
    (plain,) = run(RunConfig(model=str(tiny_model), benchmarks=["demo"], out=tmp_path / "o"))
    opts = BackendOptions(
        device_map="auto",
        model_args=parse_model_args("attn_implementation=eager,low_cpu_mem_usage=true"),
    )
    (o,) = run(
        RunConfig(
            model=str(tiny_model), benchmarks=["demo"], out=tmp_path / "o", backend_options=opts
        )
    )
    assert "device_map" not in calls[0] and "attn_implementation" not in calls[0]
    assert calls[1]["device_map"] == "auto"
    assert calls[1]["attn_implementation"] == "eager" and calls[1]["low_cpu_mem_usage"] is True
    details = o.record.model["details"]
    assert details["device_map"] == "auto"
    assert details["model_args"] == {"attn_implementation": "eager", "low_cpu_mem_usage": True}
    # options that can change answers are part of the fingerprint: no stale reuse
    fp = o.record.model["fingerprint"]
    assert fp.startswith(plain.record.model["fingerprint"] + "+args:")
    assert o.generated == 6 and o.reused == 0
    assert [i["answer"] for i in o.record.items] == [i["answer"] for i in plain.record.items]


def test_hf_only_options_are_refused_elsewhere(tmp_path):
    answers = tmp_path / "a.jsonl"
    answers.write_text(json.dumps({"item_id": "demo-1", "text": "a"}) + "\n")
    with pytest.raises(HalbenchError, match="--model-args apply to the hf backend, not replay"):
        run(
            RunConfig(
                model=f"replay:{answers}",
                benchmarks=["demo"],
                out=tmp_path / "o",
                backend_options=BackendOptions(model_args={"variant": "fp16"}),
            )
        )
    with pytest.raises(HalbenchError, match="--data-parallel-size is vLLM's engine argument"):
        run(
            RunConfig(
                model=str(answers.parent),
                benchmarks=["demo"],
                out=tmp_path / "o2",
                backend_options=BackendOptions(data_parallel_size=2),
            )
        )


def test_vllm_data_parallel_size_is_an_engine_argument(tiny_model, tmp_path, fake_vllm):  # noqa: F811
    opts = BackendOptions(tensor_parallel_size=2, data_parallel_size=4)
    (v,) = run(
        RunConfig(
            model=str(tiny_model),
            backend="vllm",
            benchmarks=["demo"],
            out=tmp_path / "v",
            backend_options=opts,
        )
    )
    (engine,) = fake_vllm.engines
    assert engine["data_parallel_size"] == 4 and engine["tensor_parallel_size"] == 2
    assert v.record.model["details"]["data_parallel_size"] == 4
    # the default leaves the engine argument out (older vLLM versions do not know it)
    (w,) = run(
        RunConfig(model=str(tiny_model), backend="vllm", benchmarks=["demo"], out=tmp_path / "w")
    )
    assert "data_parallel_size" not in fake_vllm.engines[1]
    assert w.record.model["details"]["data_parallel_size"] == 1


def test_rerun_with_every_answer_stored_does_not_load_the_model(tiny_model, tmp_path, monkeypatch):
    from halbench.runners.hf import HFRunner

    out = tmp_path / "out"
    (first,) = run(RunConfig(model=str(tiny_model), benchmarks=["demo"], out=out))
    answers = (out / "demo" / "answers.jsonl").read_text()
    record = json.loads((out / "demo" / "result.json").read_text())

    def fail(self):
        raise HalbenchError("the model was loaded")

    monkeypatch.setattr(HFRunner, "load", fail)
    (again,) = run(RunConfig(model=str(tiny_model), benchmarks=["demo"], out=out))
    assert again.generated == 0 and again.reused == 6
    assert (out / "demo" / "answers.jsonl").read_text() == answers
    rec = json.loads((out / "demo" / "result.json").read_text())
    for key in ("items", "metrics", "model", "unscored", "n_scored"):
        assert rec[key] == record[key], key
    assert rec["provenance"]["details"]["run"]["timings_s"]["model_load"] == 0
    # one missing answer (a larger --limit... here: another setting) loads it
    with pytest.raises(HalbenchError, match="the model was loaded"):
        run(RunConfig(model=str(tiny_model), benchmarks=["demo"], out=out, max_new_tokens=3))


def test_several_models_in_turn_with_one_table(tiny_model, tmp_path, capsys):
    # model 2: answers made elsewhere that mention objects (so the metrics are numbers)
    replay = tmp_path / "other-vlm.jsonl"
    texts = ["A dog and a cat on a table.", "A clock.", "A car next to a tree and a person."]
    replay.write_text(
        "".join(
            json.dumps({"item_id": f"demo-{k}", "text": texts[k % 3]}) + "\n" for k in range(1, 7)
        )
    )
    models = tmp_path / "models.txt"
    models.write_text(f"# answers made elsewhere\n\nreplay:{replay}   # same items\n")
    out = tmp_path / "cmp"
    argv = ["-q", "run", "--model", str(tiny_model), "--models", str(models), "--tasks", "demo"]
    assert main([*argv, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    a = ResultRecord.load(out / "tiny-llava" / "demo" / "result.json")
    b = ResultRecord.load(out / "other-vlm.jsonl" / "demo" / "result.json")
    assert a.model["backend"] == "hf" and b.model["backend"] == "replay"
    assert b.metrics["CHAIRi"] is not None
    table = text[text.index("benchmark               metric") :].splitlines()
    assert table[0].split()[-2:] == ["tiny-llava", "other-vlm.jsonl"]
    rows = {line[24:46].strip(): line[46:].split() for line in table[1:] if line.strip()}
    assert list(rows) == ["CHAIRs_refine (Resp.)", "CHAIRi (Mention)"]  # the headline metrics

    def shown(m):
        return ["n/a"] if m is None else [f"{100 * m:.2f}", "%"]

    for label, key in zip(rows, ("CHAIRs_refine", "CHAIRi"), strict=True):
        assert rows[label] == shown(a.metrics[key]) + shown(b.metrics[key]), label

    # a model that fails while running is reported; the others still run (exit status 1)
    short = tmp_path / "short.jsonl"
    short.write_text(json.dumps({"item_id": "demo-1", "text": "A dog."}) + "\n")
    two = ["-q", "run", "--model", f"replay:{short}", "--model", f"replay:{replay}"]
    assert main([*two, "--tasks", "demo", "--out", str(tmp_path / "two")]) == 1
    captured = capsys.readouterr()
    assert "no answer for item(s) demo-2" in captured.err
    assert f"replay:{short}: not evaluated: " in captured.out
    assert (tmp_path / "two" / "other-vlm.jsonl" / "demo" / "result.json").exists()
    assert not (tmp_path / "two" / "short.jsonl" / "demo" / "result.json").exists()

    # a model that does not exist fails before the first model runs
    capsys.readouterr()
    bad = [
        "-q",
        "run",
        "--model",
        str(tiny_model),
        "--model",
        str(tmp_path / "nope"),
        "--tasks",
        "demo",
    ]
    assert main([*bad, "--out", str(tmp_path / "bad")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    # the same model twice, and no model at all
    assert main(["-q", "run", "--model", "x", "--model", "x", "--tasks", "demo"]) == 1
    assert "model x is given twice" in capsys.readouterr().err
    assert main(["-q", "run", "--tasks", "demo"]) == 1
    assert "give --model MODEL" in capsys.readouterr().err


@pytest.mark.gpu
def test_device_map_and_model_args_on_gpu(tiny_model, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    (cpu,) = run(RunConfig(model=str(tiny_model), benchmarks=["demo"], out=tmp_path / "c"))
    opts = BackendOptions(device_map="auto", model_args={"attn_implementation": "sdpa"})
    (gpu,) = run(
        RunConfig(
            model=str(tiny_model),
            benchmarks=["demo"],
            out=tmp_path / "g",
            backend_options=BackendOptions(device="cuda", dtype="float32"),
        )
    )
    (mapped,) = run(
        RunConfig(
            model=str(tiny_model), benchmarks=["demo"], out=tmp_path / "m", backend_options=opts
        )
    )
    assert gpu.record.model["details"]["device"] == "cuda"
    assert mapped.record.model["details"]["device_map"] == "auto"
    assert mapped.record.n_scored == 6
    same = sum(
        a["answer"] == b["answer"] for a, b in zip(cpu.record.items, gpu.record.items, strict=True)
    )
    assert same >= 5  # float32 on both; kernels may differ in the last bits
