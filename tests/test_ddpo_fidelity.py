"""DDPO fidelity gaps (issue 16): completion tokenisation, image padding, frozen parts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from reference_models.rlhfv.data import PreferenceRecord
from reference_models.rlhfv.inputs import DiffSettings, Encoder, EncodeSettings

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

# llava-hf/llava-1.5-7b-hf's chat_template.json (the Jinja string, verbatim)
LLAVA15_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{ message['role'].upper() + ': '}}{% endif %}{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}{# Render all text next #}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

QUESTION = "What is in the image?"
ANSWERS = ["The dog is on the table.", "There is a cat on a red chair.", "A man holds a cup."]


def llama_style_tokenizer():
    """A sentencepiece-style BPE trained here, with the legacy Llama fast tokenizer's pipeline:
    normaliser prepends ``▁`` and replaces spaces (so text starting with a space gets a lone
    ``▁`` token), no pre-tokenizer, byte fallback, decoder stripping one leading space."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [f"USER: {QUESTION}\n ASSISTANT: {a}" for a in ANSWERS] * 3
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    special = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=special, show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        chat_template=LLAVA15_TEMPLATE,
    )


def _encoder(processor, **kw):
    return Encoder(processor, EncodeSettings(**kw), DiffSettings())


def test_llava15_template_scores_exactly_the_answer_tokens_and_eos():
    tok = llama_style_tokenizer()
    enc = _encoder(tok)
    prompt = enc.prompt_text(QUESTION)
    assert prompt.endswith("ASSISTANT:")  # the template: the answer follows after ' '
    for answer in ANSWERS:
        ids = enc.completion_ids(QUESTION, answer)
        pieces = tok.convert_ids_to_tokens(ids)
        assert ids[-1] == tok.eos_token_id
        assert tok.decode(ids[:-1]) == answer  # old code: ' ' + answer (a stray '▁' first)
        assert pieces[0] != "▁" and pieces[-2] != "▁", pieces
        # the sequence the model is trained on is the conversation as it would be tokenized
        # after the prompt, without the template's trailing separator
        whole = tok(prompt + " " + answer, add_special_tokens=False)["input_ids"]
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        assert p_ids + ids[:-1] == whole


def test_tiny_template_scores_exactly_the_answer_tokens_and_eos(tiny_model):
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_model)
    tok = proc.tokenizer
    enc = _encoder(proc)
    for answer in ("A red dog on the table.", "There is a cat and a bus."):
        ids = enc.completion_ids(QUESTION, answer)
        assert ids[-1] == tok.eos_token_id
        assert tok.decode(ids[:-1]) == " " + answer  # byte-level: the space is in the 1st token
        assert not tok.decode(ids[-2:-1]).isspace()  # old code: the template's '\n' came last
        prompt = enc.prompt_text(QUESTION)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        assert p_ids + ids[:-1] == tok(prompt + " " + answer, add_special_tokens=False)["input_ids"]


# -- image preprocessing ----------------------------------------------------------------------


def _bordered(path: Path, size=(96, 32)) -> Path:
    """Green, with an 8-pixel red band at the left (top when tall), a blue one at the right
    (bottom)."""
    from PIL import Image

    img = Image.new("RGB", size, (0, 255, 0))
    w, h = size
    if w >= h:
        img.paste((255, 0, 0), (0, 0, 8, h))
        img.paste((0, 0, 255), (w - 8, 0, w, h))
    else:
        img.paste((255, 0, 0), (0, 0, w, 8))
        img.paste((0, 0, 255), (0, h - 8, w, h))
    img.save(path)
    return path


def _rgb(pixels, proc, x: int, y: int) -> list[float]:
    ip = proc.image_processor
    return [
        float(pixels[0, c, y, x]) * ip.image_std[c] + ip.image_mean[c] for c in range(3)
    ]  # back to [0, 1]


@pytest.mark.parametrize("size", [(96, 32), (32, 96)])
def test_pad_square_keeps_the_whole_image_processor_crops_it(tiny_model, tmp_path, size):
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_model)
    img = _bordered(tmp_path / "wide.png", size)
    rec = PreferenceRecord("p", QUESTION, "a", "b", image_path=img)
    side = proc.image_processor.crop_size["height"]
    mid = side // 2
    for mode in ("pad-square", "processor"):
        px = _encoder(proc, image_preprocess=mode).prompt_inputs(rec)["pixel_values"]
        assert px.shape[-2:] == (side, side)
        if size[0] > size[1]:  # wide: bands at the left and right, padding above and below
            left, right, pad = _rgb(px, proc, 0, mid), _rgb(px, proc, side - 1, mid), (mid, 0)
        else:
            left, right, pad = _rgb(px, proc, mid, 0), _rgb(px, proc, mid, side - 1), (0, mid)
        if mode == "pad-square":
            assert left[0] > 0.8 and left[1] < 0.2  # the red band survives
            assert right[2] > 0.8 and right[1] < 0.2  # and the blue one
            mean = proc.image_processor.image_mean  # padding: the processor's mean colour
            assert _rgb(px, proc, *pad) == pytest.approx(mean, abs=0.01)
        else:  # CLIP resizes the short side and centre-crops: both bands are cut off
            assert left[1] > 0.8 and right[1] > 0.8 and left[0] < 0.2 and right[2] < 0.2


def test_pad_to_square_leaves_a_square_image_alone():
    from PIL import Image

    from halbench.runners.hf import pad_to_square

    img = Image.new("RGB", (5, 5), (1, 2, 3))
    assert pad_to_square(img, object()) is img


def test_halbench_run_image_preprocess_is_applied_and_recorded(tiny_model, tmp_path, monkeypatch):
    import halbench.runners.hf as hf
    from halbench.cli import main

    calls = []
    real = hf.pad_to_square
    monkeypatch.setattr(hf, "pad_to_square", lambda im, p: calls.append(im.size) or real(im, p))
    out = tmp_path / "r"
    args = ["-q", "run", "--model", str(tiny_model), "--benchmarks", "demo", "--out", str(out)]
    assert main([*args, "--image-preprocess", "pad-square"]) == 0
    res = json.loads((out / "demo" / "result.json").read_text())
    assert res["model"]["details"]["image_preprocess"] == "pad-square"
    assert res["model"]["fingerprint"].endswith("+image_preprocess=pad-square")
    assert len(calls) == res["n_items"] == 6
    # the default is unchanged (and is a different answer-store key: nothing is reused)
    assert main([*args[:-1], str(tmp_path / "d")]) == 0
    res2 = json.loads((tmp_path / "d" / "demo" / "result.json").read_text())
    assert res2["model"]["details"]["image_preprocess"] == "processor"
    assert "+image_preprocess" not in res2["model"]["fingerprint"]
    assert res2["provenance"]["details"]["run"]["reused_from_store"] == 0
    assert len(calls) == 6


def test_image_preprocess_needs_the_hf_backend(capsys):
    from halbench.cli import main

    rc = main(
        ["-q", "run", "--model", "openai:gpt-4o", "--benchmarks", "demo"]
        + ["--image-preprocess", "pad-square"]
    )
    assert rc != 0
    err = capsys.readouterr().err
    assert "--image-preprocess pad-square needs the hf backend" in err
    assert "Traceback" not in err


# -- frozen parts -----------------------------------------------------------------------------


def test_freeze_parts_marks_exactly_the_vision_tower_and_projector(tiny_model):
    from transformers import AutoModelForImageTextToText

    from halbench.errors import HalbenchError
    from reference_models.rlhfv.fidelity import freeze_parts

    model = AutoModelForImageTextToText.from_pretrained(tiny_model)
    counts = freeze_parts(model, ["vision_tower", "projector"])
    assert counts["vision_tower"] > 0 and counts["projector"] > 0
    for name, p in model.named_parameters():
        visual = "vision_tower." in name or "multi_modal_projector." in name
        assert p.requires_grad is not visual, name
    lm = model.get_output_embeddings()  # a language-model-only module has no such parts
    with pytest.raises(HalbenchError, match="no parameter of this model belongs"):
        freeze_parts(lm, ["vision_tower"])


def test_frozen_parts_get_no_gradient_and_no_optimizer_state(tiny_model, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("accelerate")
    from safetensors.torch import load_file

    from halbench.cli import main

    out = tmp_path / "frozen"
    tiny = Path(__file__).resolve().parents[1] / "reference_models/rlhfv/configs/tiny.yaml"
    args = ["-q", "train", "ddpo", "--config", str(tiny), "--out", str(out)]
    for kv in (
        f"model={tiny_model}",
        f"ref_cache_dir={tmp_path / 'ref'}",
        "tensorboard=false",
        "freeze=[vision_tower, projector]",
        "max_steps=2",
        "save_steps=1",
    ):
        args += ["--set", kv]
    assert main(args) == 0
    base, new = load_file(tiny_model / "model.safetensors"), load_file(out / "model.safetensors")
    visual = [k for k in base if "vision_tower." in k or "multi_modal_projector." in k]
    assert visual and all(torch.equal(base[k], new[k]) for k in visual)
    assert any(not torch.equal(base[k], new[k]) for k in base if k not in visual)
    rec = json.loads((out / "train_record.json").read_text())
    assert set(rec["recipe"]["frozen_parts"]) == {"vision_tower", "projector"}
    assert rec["config"]["freeze"] == ["vision_tower", "projector"]
    # AdamW holds state for the trainable tensors only
    (opt,) = (out / "checkpoints" / "step-1").glob("optimizer*.bin")
    state = torch.load(opt, weights_only=True)
    n_trainable = sum(1 for k in base if k not in visual)
    assert len(state["state"]) == n_trainable == len(state["param_groups"][0]["params"])
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert rows[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)


# -- LoRA: merged from the gathered state dict (the ZeRO-3 path) -----------------------------


def _lora_model(tiny_model):
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    from reference_models.rlhfv.config import TrainConfig

    model = AutoModelForImageTextToText.from_pretrained(tiny_model)
    cfg = TrainConfig()
    peft_model = get_peft_model(
        model,
        LoraConfig(r=4, lora_alpha=16, target_modules=cfg.lora_target_modules, lora_dropout=0.0),
    )
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # as after training: B is no longer zero
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return peft_model


def test_lora_merge_from_the_state_dict_equals_peft_merge_and_unload(tiny_model, tmp_path):
    import copy

    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    from reference_models.rlhfv.fidelity import merge_lora_state, save_lora_merged

    peft_model = _lora_model(tiny_model)
    state = {k: v.clone() for k, v in peft_model.state_dict().items()}
    merged = merge_lora_state(state, peft_model)
    expected = copy.deepcopy(peft_model).merge_and_unload().state_dict()
    assert merged.keys() == expected.keys()
    assert max((merged[k] - expected[k]).abs().max().item() for k in merged) < 1e-6
    base = _lora_model(tiny_model).get_base_model()  # module names, LoRA B random again
    plain = {k.replace(".base_layer.", "."): v for k, v in base.state_dict().items()}
    changed = [k for k in merged if not torch.equal(plain[k], merged[k])]
    assert changed and all("language_model" in k and "proj" in k for k in changed)
    # saved: the same file as PEFT's merge_and_unload + save_pretrained writes
    save_lora_merged(peft_model, state, tmp_path / "out")
    copy.deepcopy(peft_model).merge_and_unload().save_pretrained(tmp_path / "ref")
    saved = load_file(tmp_path / "out" / "model.safetensors")
    ref = load_file(tmp_path / "ref" / "model.safetensors")
    assert saved.keys() == ref.keys() and not any("lora" in k for k in saved)
    assert max((saved[k] - ref[k]).abs().max().item() for k in ref) < 1e-6
    from transformers import AutoModelForImageTextToText

    again = AutoModelForImageTextToText.from_pretrained(tmp_path / "out").state_dict()
    assert max((again[k] - expected[k]).abs().max().item() for k in expected) < 1e-6


@pytest.mark.slow
def test_lora_under_zero3_two_processes_matches_one(tiny_model, tmp_path):
    """LoRA under the shipped zero3.yaml (2 CPU processes through tests/cpu_dist_launch.py, as the
    sharded tests in test_ddpo_train.py) saves the same merged checkpoint as one process."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    pytest.importorskip("deepspeed")
    import os
    import socket
    import subprocess
    import sys

    from safetensors.torch import load_file

    from halbench.cli import main

    pkg = Path(__file__).resolve().parents[1] / "reference_models" / "rlhfv"
    sets = [f"model={tiny_model}", f"ref_cache_dir={tmp_path / 'ref'}", "tensorboard=false"]
    # LoRA dropout off: with it, each rank draws its own masks and no run can equal one process
    sets += ["lora=true", "lora_r=4", "lora_dropout=0", "learning_rate=0.01", "max_steps=4"]
    sets += ["save_steps=0"]
    flags = [x for kv in sets for x in ("--set", kv)]
    train = ["-q", "train", "ddpo", "--config", str(pkg / "configs" / "tiny.yaml")]
    assert main([*train, "--out", str(tmp_path / "one"), *flags]) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    cmd += ["--config_file", str(pkg / "configs" / "accelerate" / "zero3.yaml")]
    cmd += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    cmd += ["--dynamo_backend", "no", "--main_process_port", str(port)]
    cmd += [str(Path(__file__).parent / "cpu_dist_launch.py")]
    cmd += [*train, "--out", str(tmp_path / "z3"), *flags]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env["ACCELERATE_USE_CPU"] = "false"  # as test_ddpo_train's zero3 case
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads((tmp_path / "z3" / "train_record.json").read_text())
    assert rec["resolved"]["distributed_type"] == "DEEPSPEED"
    a = load_file(tmp_path / "one" / "model.safetensors")
    b = load_file(tmp_path / "z3" / "model.safetensors")
    assert a.keys() == b.keys() and not any("lora" in k for k in b)
    base = load_file(tiny_model / "model.safetensors")
    assert any(not torch.equal(base[k], b[k]) for k in b)  # the adapters were merged in
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-5
