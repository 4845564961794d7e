"""Shared fixtures: a tiny random RoBERTa with a tokenizer trained here, and k-shot splits."""

import os
import shutil
from pathlib import Path

import pytest

# One thread per BLAS / OpenMP pool, before numpy or torch is imported (subprocesses inherit it):
# the tests' arrays and models are small, and on a busy 2-core machine extra threads only
# contend (the suite took 3× its CPU time under load).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ORIGINAL = Path(__file__).resolve().parents[1] / "roberta" / "data" / "original"


def _fixture_sentences() -> list[str]:
    sst2 = (ORIGINAL / "SST-2" / "train.tsv").read_text().splitlines()[1:400]
    sst5 = (ORIGINAL / "sst-5" / "stsa.fine.train").read_text().splitlines()[:200]
    trec = (ORIGINAL / "trec" / "train.csv").read_text().splitlines()[:200]
    return ([s.split("\t")[0] for s in sst2] + [s.split(" ", 1)[1] for s in sst5]
            + [s.split(",", 1)[1] for s in trec])


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A folder with a 2-layer RoBERTa (hidden 32) and a byte-level BPE tokenizer in which every
    label word (with its leading space) and the template words are single tokens; loaded through
    the same from_pretrained path as roberta-large."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaForMaskedLM, RobertaTokenizerFast

    from roberta.prompts import LABEL_WORDS

    words = [w for ws in LABEL_WORDS.values() for w in ws]
    corpus = _fixture_sentences() + [f"a b It was {w} . {w} : x" for w in words] * 20
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=1500, min_frequency=2, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok = RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                               sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                               pad_token="<pad>", mask_token="<mask>")
    folder = tmp_path_factory.mktemp("tiny-roberta")
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=4, intermediate_size=64,
                           max_position_embeddings=132, type_vocab_size=1,
                           pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                           eos_token_id=tok.eos_token_id)
    RobertaForMaskedLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def originals(tmp_path_factory) -> Path:
    """A copy of the shipped originals and their SHA256SUMS (building sst-5's csv must not write
    into the repo); a csv built there earlier comes without its build record, so it is rebuilt."""
    folder = tmp_path_factory.mktemp("original")
    shutil.copytree(ORIGINAL, folder, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("build.json", ".*"))
    return folder


@pytest.fixture(scope="session")
def kshot(tmp_path_factory, originals) -> Path:
    """k-shot splits (K = 8, seed 13) of the three tasks, generated from the originals."""
    pytest.importorskip("pandas")
    from roberta import data

    root = tmp_path_factory.mktemp("k-shot")
    for task in data.TASKS:
        data.generate_kshot(task, 8, 13, originals, root)
    return root


@pytest.fixture()
def drawn(monkeypatch):
    """The figures the plot scripts save (flatzero.plotting.save), still open for inspection."""
    from flatzero import plotting

    figs = []

    def save(fig, path):
        figs.append(fig)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
        return path

    monkeypatch.setattr(plotting, "save", save)
    return figs
