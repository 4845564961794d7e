"""LM-BFF manual prompts: templates, label words, and tokenisation that keeps the template whole.

    SST-2, sst-5:  <s> {sentence} It was <mask> . </s>
    trec:          <s> <mask> : {sentence} </s>

Each piece is encoded on its own as LM-BFF does (" It was" with its leading space, the trec
sentence with one). When the prompt exceeds ``max_length`` only the sentence is truncated, so
the mask and the template words are never cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from roberta.data import Example

CLS, SENT, MASK, SEP = "<cls>", "<sent>", "<mask>", "<sep>"
# Template pieces: special markers or literal text encoded as is.
TEMPLATES = {
    "SST-2": (CLS, SENT, " It was", MASK, ".", SEP),
    "sst-5": (CLS, SENT, " It was", MASK, ".", SEP),
    "trec": (CLS, MASK, ":", " " + SENT, SEP),
}
LABEL_WORDS = {
    "SST-2": ("terrible", "great"),
    "sst-5": ("terrible", "bad", "okay", "good", "great"),
    "trec": ("Description", "Entity", "Expression", "Human", "Location", "Number"),
}
FIRST_SENT_LIMIT = {"sst-5": 110, "trec": 110}  # LM-BFF's per-task sentence limits (tokens)


class PromptError(Exception):
    """A tokenizer that cannot express the prompt (e.g. a label word that is not one token)."""


@dataclass
class Encoded:
    input_ids: list[int]
    mask_pos: int
    label: int


def label_word_ids(task: str, tokenizer) -> list[int]:
    """Token ids of the label words, each " word" (leading space) as a single token."""
    ids = []
    for word in LABEL_WORDS[task]:
        pieces = tokenizer.encode(" " + word, add_special_tokens=False)
        if len(pieces) != 1:
            raise PromptError(f"label word {word!r} of {task} is {len(pieces)} tokens for this "
                              f"tokenizer, not one: {tokenizer.convert_ids_to_tokens(pieces)}")
        ids.append(pieces[0])
    return ids


def encode(examples: list[Example], task: str, tokenizer, max_length: int = 128) -> list[Encoded]:
    """Token ids of each prompt, with the mask position; only the sentence is ever truncated."""
    special = {CLS: [tokenizer.cls_token_id], MASK: [tokenizer.mask_token_id],
               SEP: [tokenizer.sep_token_id]}
    if None in (tokenizer.cls_token_id, tokenizer.mask_token_id, tokenizer.sep_token_id):
        raise PromptError("the tokenizer needs cls, mask and sep tokens (an MLM tokenizer)")
    pieces = TEMPLATES[task]
    fixed = {p: special[p] if p in special else tokenizer.encode(p, add_special_tokens=False)
             for p in pieces if SENT not in p}
    budget = max_length - sum(len(v) for v in fixed.values())
    if budget < 1:
        raise PromptError(f"max_length {max_length} leaves no room for the sentence")
    budget = min(budget, FIRST_SENT_LIMIT.get(task, budget))

    out = []
    for ex in examples:
        ids: list[int] = []
        mask_pos = -1
        for piece in pieces:
            if SENT in piece:
                ids += tokenizer.encode(piece.replace(SENT, ex.text),
                                        add_special_tokens=False)[:budget]
            else:
                if piece == MASK:
                    mask_pos = len(ids)
                ids += fixed[piece]
        out.append(Encoded(ids, mask_pos, ex.label))
    return out


def collate(items: list[Encoded], pad_id: int, device: torch.device | str = "cpu",
            ) -> dict[str, torch.Tensor]:
    """Pad to the longest prompt of the batch (dynamic padding) and stack."""
    width = max(len(e.input_ids) for e in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(items), width), dtype=torch.long)
    for row, e in enumerate(items):
        ids[row, :len(e.input_ids)] = torch.tensor(e.input_ids)
        attention[row, :len(e.input_ids)] = 1
    return {
        "input_ids": ids.to(device),
        "attention_mask": attention.to(device),
        "mask_pos": torch.tensor([e.mask_pos for e in items], device=device),
        "labels": torch.tensor([e.label for e in items], device=device),
    }


def chunks(items: list[Encoded], size: int, pad_id: int, device) -> list[dict]:
    """Forward-pass chunks of at most ``size`` rows, each padded to its longest prompt.

    Rows are sorted by length first (stably), so a chunk pads to a length close to its rows'
    own: on SST-2 K = 256 this halves the padded tokens per pass over the train set. A row's
    loss does not depend on its chunk (padding is masked), so only float rounding can change.
    """
    items = sorted(items, key=lambda e: len(e.input_ids))
    return [collate(items[i:i + size], pad_id, device) for i in range(0, len(items), size)]
