"""A tiny LLaVA-style checkpoint built offline, for tests, the demo and perf.

``build_tiny_llava(dir)`` writes a random ~0.6 MB checkpoint (tiny CLIP vision tower,
tiny Llama, a byte-level BPE tokenizer trained on a few hundred sentences, a chat
template, CLIP's image processor) that loads back with ``AutoProcessor`` and
``AutoModelForImageTextToText`` like any hub checkpoint. ``fit`` optionally trains it
for a few seconds on (image, question, answer) triples so that it answers in words
(the demo uses this); everything is seeded and runs on CPU.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() }}: "
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>{{ '\\n' }}"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}{{ '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

_OBJECTS = [
    "dog",
    "cat",
    "car",
    "person",
    "man",
    "woman",
    "table",
    "cup",
    "bowl",
    "clock",
    "ball",
    "stop sign",
    "traffic light",
    "tv",
    "chair",
    "couch",
    "bus",
    "train",
    "pizza",
    "phone",
]
_ADJ = ["small", "red", "big", "white", "blue", "green", "yellow", "round", "black", "wooden"]
_WHERE = [
    "on the table",
    "on the grass",
    "on the wall",
    "on a pole",
    "in the room",
    "under the sky",
]


def _corpus(extra: Sequence[str]) -> list[str]:
    sents = [f"A {a} {o} {w}." for a in _ADJ for o in _OBJECTS for w in _WHERE[:3]]
    sents += [f"There is a {o} and a {p}." for o in _OBJECTS for p in _OBJECTS[:5]]
    return sents + list(extra) + ["USER: ASSISTANT:"]


def build_tiny_llava(
    directory: str | Path,
    *,
    seed: int = 0,
    extra_text: Sequence[str] = (),
    max_new_tokens: int = 32,
) -> Path:
    """Write a tiny random LLaVA checkpoint to ``directory`` and return its path."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import (
        CLIPVisionConfig,
        GenerationConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    try:
        from transformers import CLIPImageProcessorPil as ImageProcessor  # transformers >= 5
    except ImportError:  # pragma: no cover - older transformers
        from transformers import CLIPImageProcessor as ImageProcessor

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=["<unk>", "<pad>", "<s>", "</s>", "<image>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(extra_text), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
        chat_template=CHAT_TEMPLATE,
    )
    image_processor = ImageProcessor(
        size={"shortest_edge": 32},
        crop_size={"height": 32, "width": 32},
        do_center_crop=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
        image_token="<image>",
    )
    torch.manual_seed(seed)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=16,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    model = LlavaForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        do_sample=False,
        max_new_tokens=max_new_tokens,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def fit(
    directory: str | Path,
    examples: Sequence[tuple[Path, str, str]],
    *,
    steps: int = 200,
    lr: float = 3e-3,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the checkpoint in ``directory`` in place on (image, question, answer) triples.

    Teacher forcing on the answer tokens only; AdamW; deterministic on CPU. Returns the
    first and last loss.
    """
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.manual_seed(seed)
    processor = AutoProcessor.from_pretrained(directory)
    model = AutoModelForImageTextToText.from_pretrained(directory, dtype=torch.float32)
    model.train()
    tokenizer = processor.tokenizer
    batches = []
    for image_path, question, answer in examples:
        with Image.open(image_path) as im:
            image = im.convert("RGB")
        messages = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}
        ]
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        full = processor(
            images=[image], text=[prompt + " " + answer + tokenizer.eos_token], return_tensors="pt"
        )
        n_prompt = processor(images=[image], text=[prompt], return_tensors="pt")["input_ids"].shape[
            1
        ]
        labels = full["input_ids"].clone()
        labels[:, :n_prompt] = -100
        batches.append((full, labels))
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    order = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        k = int(torch.randint(len(batches), (1,), generator=order))
        inputs, labels = batches[k]
        loss = model(**inputs, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    model.save_pretrained(directory)
    info = {
        "steps": steps,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "examples": len(examples),
    }
    (Path(directory) / "halbench_fit.json").write_text(json.dumps(info, indent=1))
    return info
