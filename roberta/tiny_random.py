"""``--model tiny-random``: a small random RoBERTa that anyone can run on a CPU, with no download.

The tokenizer is a byte-level BPE trained here on the shipped LM-BFF originals (a fixed slice of
each task, plus the template and label words so that each label word is one token, as in
RoBERTa's vocabulary); the weights are RobertaForMaskedLM's initialisation under a fixed seed.
Both are deterministic: every machine builds the same files. They are built once into
``roberta/models/tiny-random/`` (git-ignored) and then loaded through the same
``from_pretrained`` path as roberta-large. It is a mechanics demo, not the paper's model: its
accuracies and traces say nothing about RoBERTa-large.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

NAME = "tiny-random"
VERSION = 1  # bump when the recipe changes: the cached folder is rebuilt
FOLDER = Path(__file__).resolve().parent / "models" / NAME
ORIGINAL = Path(__file__).resolve().parent / "data" / "original"
CONFIG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              max_position_embeddings=130, type_vocab_size=1)
VOCAB = 2000


def corpus() -> list[str]:
    """The tokenizer's training text: the first sentences of each shipped original, then the
    prompt pieces and label words of every task."""
    from roberta.prompts import LABEL_WORDS

    sst2 = (ORIGINAL / "SST-2" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:2001]
    sst5 = (ORIGINAL / "sst-5" / "stsa.fine.train").read_text(encoding="utf-8").splitlines()[:1000]
    trec = (ORIGINAL / "trec" / "train.csv").read_text(encoding="utf-8").splitlines()[:1000]
    words = [w for ws in LABEL_WORDS.values() for w in ws]
    return ([s.split("\t")[0] for s in sst2] + [s.split(" ", 1)[1] for s in sst5]
            + [s.split(",", 1)[1] for s in trec]
            + [f"It was {w} . {w} : {w}" for w in words] * 50)


def build(folder: Path) -> Path:
    """Write the tokenizer and the random model into ``folder`` (created atomically)."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaForMaskedLM, RobertaTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Writing model shards" of a 2 MB file

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus(), vocab_size=VOCAB, min_frequency=2, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok = RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                               sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                               pad_token="<pad>", mask_token="<mask>")
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")  # ranks may build at once
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tok.save_pretrained(tmp)
    config = RobertaConfig(vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                           bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, **CONFIG)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        RobertaForMaskedLM(config).save_pretrained(tmp)
    (tmp / "flatzero.json").write_text(json.dumps({"name": NAME, "version": VERSION}))
    if not _valid(folder):
        shutil.rmtree(folder, ignore_errors=True)
    try:
        tmp.rename(folder)
    except OSError:  # another process finished first: its files are the same
        shutil.rmtree(tmp, ignore_errors=True)
        if not _valid(folder):
            raise
    return folder


def _valid(folder: Path) -> bool:
    try:
        return json.loads((folder / "flatzero.json").read_text()) == {"name": NAME,
                                                                      "version": VERSION}
    except (OSError, ValueError):
        return False


def ensure(folder: Path = FOLDER) -> Path:
    """The built model folder, building it first if it is missing or from another recipe."""
    return folder if _valid(folder) else build(folder)
