"""Preference record -> model inputs, HF-native (spec section e), and per-token log-probs.

* Prompt: ``processor.apply_chat_template([user: image + question], add_generation_prompt=True)``,
  tokenized by the processor together with the image, as ``halbench run`` does at inference
  (so a BOS the tokenizer adds is kept; set ``prompt_special_tokens=False`` to match TRL).
* Completion: the tokens the full rendered conversation has after the prompt's tokens (both
  tokenized with ``add_special_tokens=False``; the text-prefix property is asserted), so the
  answer is tokenized as it follows the prompt (LLaVA-1.5's template puts a space after
  ``ASSISTANT:``: tokenized alone, a Llama tokenizer's prepended ``▁`` would make a stray token),
  minus whitespace-only tokens the template adds after the answer (LLaVA-1.5's ``' '``, the tiny
  template's ``'\n'``). When the prompt's tokens are not a prefix of the conversation's (a merge
  across the split), the remainder text is tokenized alone and stray whitespace-only tokens are
  dropped at both ends. EOS is appended when the template does not end the turn with it
  (``append_eos``), as TRL does.
* Image: ``image_preprocess`` ``pad-square`` pads to a square with the processor's mean colour
  (LLaVA-1.5's ``expand2square``) before the processor, so its centre crop removes nothing;
  ``processor`` leaves the image to the processor (CLIP's processor crops non-square images).
* Weights: the diff (``diff.py``) of the rejected against the chosen completion ids.
* Batch: 2B rows [chosen; rejected] in ONE forward, right-padded, vision tensors duplicated;
  weights aligned to the shifted labels (the logit at position t-1 scores token t); only the
  logits from the first completion position on are computed (``logits_to_keep``). A prompt
  longer than ``max_length`` is an error: image tokens are never truncated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from halbench.errors import HalbenchError
from halbench.runners.hf import pad_to_square
from reference_models.rlhfv.data import PreferenceRecord
from reference_models.rlhfv.diff import EditPolicy, corrected_positions

# per-token vision/processor outputs that must be padded like input_ids
_TOKEN_ALIGNED = ("token_type_ids", "mm_token_type_ids")


@dataclass(frozen=True)
class EncodeSettings:
    """Everything that changes token ids (it is part of the reference cache key)."""

    max_length: int | None = None
    append_eos: bool = True
    prompt_special_tokens: bool = True
    image_preprocess: Literal["pad-square", "processor"] = "processor"
    completion_split: str = "tokens/2"  # the split rule's version (new rule: new cache key)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DiffSettings:
    min_match: int = 3
    autojunk: bool = True
    edit_policy: EditPolicy = "substitutions"
    scope: Literal["completion", "full"] = "completion"  # full: prompt+completion minus token 0


@dataclass
class EncodedPair:
    chosen_ids: list[int]
    rejected_ids: list[int]
    chosen_corrected: list[int]
    rejected_corrected: list[int]


def _blank(tokenizer: Any, ids: list[int], special: set[int]) -> list[bool]:
    return [i not in special and not tokenizer.decode([i]).strip() for i in ids]


def split_completion(tokenizer: Any, prompt: str, full: str, answer: str = "") -> list[int]:
    """The completion's token ids: see the module docstring."""
    end = full.rfind(answer, len(prompt)) if answer else -1
    if end >= 0 and not full[end + len(answer) :].strip():  # whitespace after the answer: cut
        full = full[: end + len(answer)]
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    p_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    f_ids = list(tokenizer(full, add_special_tokens=False)["input_ids"])
    if f_ids[: len(p_ids)] == p_ids:
        ids = f_ids[len(p_ids) :]
    else:  # a token spans the split: the remainder alone, without stray leading blanks
        ids = list(tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"])
        blank = _blank(tokenizer, ids, special)
        while ids and blank[0]:
            ids, blank = ids[1:], blank[1:]
    blank = _blank(tokenizer, ids, special)
    while ids and blank[-1]:  # the template's separator after the answer
        ids, blank = ids[:-1], blank[:-1]
    return ids


def _messages(question: str, answer: str | None) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}
    ]
    if answer is not None:
        msgs.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return msgs


class Encoder:
    def __init__(self, processor: Any, settings: EncodeSettings, diff: DiffSettings) -> None:
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        if getattr(processor, "chat_template", None) is None:
            raise HalbenchError(
                "the processor has no chat template; DDPO needs one to render pairs"
            )
        self.settings = settings
        self.diff = diff
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id

    def prompt_text(self, question: str) -> str:
        return self.processor.apply_chat_template(
            _messages(question, None), add_generation_prompt=True, tokenize=False
        )

    def completion_ids(self, question: str, answer: str) -> list[int]:
        prompt = self.prompt_text(question)
        full = self.processor.apply_chat_template(_messages(question, answer), tokenize=False)
        if not full.startswith(prompt):
            raise HalbenchError(
                "the chat template does not render the prompt as a prefix of the conversation; "
                "cannot split prompt and completion"
            )
        ids = split_completion(self.tokenizer, prompt, full, answer)
        eos = self.tokenizer.eos_token_id
        if self.settings.append_eos and eos is not None and (not ids or ids[-1] != eos):
            ids = [*ids, eos]
        return list(ids)

    def encode_pair(self, rec: PreferenceRecord) -> EncodedPair:
        c = self.completion_ids(rec.question, rec.chosen)
        r = self.completion_ids(rec.question, rec.rejected)
        d = self.diff
        opts = {"min_match": d.min_match, "autojunk": d.autojunk, "edit_policy": d.edit_policy}
        if d.scope == "completion":
            rp, cp = corrected_positions(r, c, **opts)
            return EncodedPair(c, r, cp, rp)
        # strict parity with the released code: the whole sequence minus its first token (so
        # autojunk's popularity threshold sees the prompt and image tokens too)
        prompt = self.prompt_inputs(rec)["input_ids"][0].tolist()
        off = len(prompt) - 1
        rp, cp = corrected_positions((prompt + r)[1:], (prompt + c)[1:], **opts)
        return EncodedPair(
            c, r, [k - off for k in cp if k >= off], [k - off for k in rp if k >= off]
        )

    def image(self, rec: PreferenceRecord) -> Any:
        img = rec.load_image()
        if self.settings.image_preprocess == "pad-square":
            img = pad_to_square(img, self.processor)
        return img

    def prompt_inputs(self, rec: PreferenceRecord) -> dict[str, Any]:
        return self.processor(
            images=[self.image(rec)],
            text=[self.prompt_text(rec.question)],
            return_tensors="pt",
            add_special_tokens=self.settings.prompt_special_tokens,
        )

    def batch_prompt_inputs(
        self, records: list[PreferenceRecord]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One processor call for the batch (so model-specific vision tensors are batched the
        processor's way); per record the unpadded token-aligned tensors, plus the vision tensors."""
        enc = self.processor(
            images=[self.image(r) for r in records],
            text=[self.prompt_text(r.question) for r in records],
            return_tensors="pt",
            padding=True,
            add_special_tokens=self.settings.prompt_special_tokens,
        )
        mask = enc["attention_mask"].bool()
        per = []
        for k in range(len(records)):
            row = {"input_ids": enc["input_ids"][k][mask[k]]}
            for key in _TOKEN_ALIGNED:
                if key in enc:
                    row[key] = enc[key][k][mask[k]]
            per.append(row)
        vision = {
            k: v
            for k, v in enc.items()
            if k not in ("input_ids", "attention_mask", *_TOKEN_ALIGNED)
        }
        return per, vision

    def collate(
        self, records: list[PreferenceRecord], pairs: list[EncodedPair], gamma: float
    ) -> dict[str, Any]:
        """One concatenated batch: ``model_inputs`` for the forward, plus alignment tensors."""
        import torch

        prompts, vision = self.batch_prompt_inputs(records)
        rows: list[tuple[list[int], list[int], list[int]]] = []  # prompt, completion, corrected
        for side in ("chosen", "rejected"):
            for rec, enc, pair in zip(records, prompts, pairs, strict=True):
                p = enc["input_ids"].tolist()
                comp = getattr(pair, f"{side}_ids")
                corr = getattr(pair, f"{side}_corrected")
                lim = self.settings.max_length
                if lim is not None:
                    if len(p) >= lim:
                        raise HalbenchError(
                            f"pair {rec.id}: the prompt alone has {len(p)} tokens (max_length "
                            f"{lim}); image tokens are never truncated: raise max_length"
                        )
                    comp = comp[: lim - len(p)]
                rows.append((p, comp, [k for k in corr if k < len(comp)]))
        n_rows = len(rows)
        length = max(len(p) + len(c) for p, c, _ in rows)
        start = min(len(p) for p, _, _ in rows) - 1  # first logit that scores a completion token
        width = length - 1 - start
        input_ids = torch.full((n_rows, length), self.pad_id, dtype=torch.long)
        attention = torch.zeros((n_rows, length), dtype=torch.long)
        weights = torch.zeros((n_rows, width), dtype=torch.float32)
        for k, (p, c, corr) in enumerate(rows):
            seq = p + c
            input_ids[k, : len(seq)] = torch.tensor(seq)
            attention[k, : len(seq)] = 1
            first = len(p) - 1 - start
            weights[k, first : first + len(c)] = 1.0
            for q in corr:
                weights[k, first + q] = gamma
        model_inputs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention}
        for key in _TOKEN_ALIGNED:
            if key in prompts[0]:
                t = torch.zeros((n_rows, length), dtype=prompts[0][key].dtype)
                for k, (p, _, _) in enumerate(rows):
                    t[k, : len(p)] = prompts[k % len(records)][key]
                model_inputs[key] = t
        for key, v in vision.items():  # rows are [chosen; rejected]: the same images twice
            model_inputs[key] = torch.cat([v, v], dim=0)
        return {
            "model_inputs": model_inputs,
            "targets": input_ids[:, start + 1 :],
            "weights": weights,
            "start": start,
            "rows": [(len(p) - 1 - start, len(c)) for p, c, _ in rows],
            "n_pairs": len(records),
        }

    def ref_tensor(self, batch: dict[str, Any], ref_rows: list[list[float]]) -> Any:
        """Cached per-token reference log-probs laid out like ``batch['weights']``."""
        import torch

        out = torch.zeros_like(batch["weights"])
        for k, ((first, n), vals) in enumerate(zip(batch["rows"], ref_rows, strict=True)):
            out[k, first : first + n] = torch.tensor(vals[:n], dtype=out.dtype)
        return out


def selective_log_softmax(logits: Any, targets: Any) -> Any:
    """log_softmax(logits).gather(targets) without materialising the full log-softmax."""
    import torch

    if logits.dtype in (torch.float32, torch.float64):
        picked = torch.gather(logits, -1, targets.unsqueeze(-1)).squeeze(-1)
        lse = torch.stack([torch.logsumexp(row, dim=-1) for row in logits])
        return picked - lse
    out = []
    for row, tgt in zip(logits, targets, strict=True):  # bf16/fp16: per row in float32
        lp = torch.log_softmax(row.float(), dim=-1)
        out.append(lp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1))
    return torch.stack(out)


def token_logps(model: Any, batch: dict[str, Any]) -> Any:
    """Per-token log-probs (rows, width) for the positions in ``batch['weights']``."""
    inputs = batch["model_inputs"]
    length = inputs["input_ids"].shape[1]
    keep = length - batch["start"]
    out = model(**inputs, use_cache=False, logits_to_keep=keep)
    logits = out.logits
    if logits.shape[1] != keep:  # a model that ignores logits_to_keep
        logits = logits[:, batch["start"] :]
    logits = logits[:, :-1]
    return selective_log_softmax(logits, batch["targets"].to(logits.device)).float()
