"""An MLM as a prompt classifier: class logits are the MLM logits at <mask> over the label words.

Only the mask position goes through the LM head (B × H → B × V), never all positions
(B × L × V would be 1.6 GB for RoBERTa-large at batch 64, length 128).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from roberta.distributed import SINGLE, World


class PromptClassifier(nn.Module):
    def __init__(self, mlm: nn.Module, label_word_ids: list[int]) -> None:
        super().__init__()
        self.mlm = mlm
        if not (hasattr(mlm, "lm_head") or hasattr(mlm, "cls")):
            raise ValueError(f"{type(mlm).__name__} has no lm_head / cls MLM head")
        self.register_buffer("label_word_ids", torch.tensor(label_word_ids), persistent=False)
        self.autocast: torch.dtype | None = None  # e.g. torch.bfloat16: mixed-precision forward

    @property
    def head(self) -> nn.Module:
        """The MLM head: RoBERTa-style ``lm_head`` or BERT-style ``cls``."""
        return self.mlm.lm_head if hasattr(self.mlm, "lm_head") else self.mlm.cls

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                mask_pos: torch.Tensor) -> torch.Tensor:
        with torch.autocast(input_ids.device.type, dtype=self.autocast or torch.float32,
                            enabled=self.autocast is not None):
            hidden = self.mlm.base_model(input_ids=input_ids,
                                         attention_mask=attention_mask).last_hidden_state
            at_mask = hidden[torch.arange(len(hidden), device=hidden.device), mask_pos]
            return _at_least_float32(self.head(at_mask)[:, self.label_word_ids])


def _at_least_float32(t: torch.Tensor) -> torch.Tensor:
    """bf16 logits up to float32; float64 ones (``float64``) stay float64."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


DTYPES = ("fp32", "tf32", "bf16")
PRECISION_NOTE = ("--dtype {} rounds the forward and with it f(θ ± εz): the error it puts into "
                  "ZO's projected gradient is in docs/precision-and-performance.md; the paper's "
                  "runs are fp32")


def set_precision(net: PromptClassifier, dtype: str) -> None:
    """fp32: exact float32; tf32: TensorFloat-32 matmuls on Ampere+ GPUs (no effect on CPU);
    bf16: bfloat16 autocast of the forward. Parameters and perturbations stay float32."""
    tf32 = dtype == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    net.autocast = torch.bfloat16 if dtype == "bf16" else None


@contextmanager
def float64(net: PromptClassifier) -> Iterator[None]:
    """The network in float64 inside the block (weights, activations, losses; no autocast),
    cast back to its dtype on exit.

    For the trace estimate, whose 1/δ² turns float32 rounding into noise (trace.py). The same
    parameter objects change dtype, so a parameter list taken before stays valid. The cast
    back rounds weights moved inside the block: wrap it in ``trace.restoring`` to get them
    back bit for bit. Memory: the weights in float64 (twice their float32 size) while inside.
    """
    dtype, autocast = next(net.parameters()).dtype, net.autocast
    net.to(torch.float64)
    net.autocast = None
    try:
        yield
    finally:
        net.to(dtype)
        net.autocast = autocast


class ModelError(Exception):
    """A model or tokenizer that cannot be loaded; the message says what to do."""


DECODER = "lm_head.decoder.weight"  # RoBERTa's output matrix, as checkpoints name it


def load(name_or_path: str, label_word_ids: list[int], device: torch.device | str = "cpu",
         tie_emb: bool = False, local_files_only: bool = False) -> PromptClassifier:
    """AutoModelForMaskedLM from a hub name or a local folder, as a prompt classifier (fp32).

    Untied by default, like the paper's ``RobertaModelForPromptFinetuning`` ("the input
    embeddings and the output embeddings are NOT tied"): the LM head's output weight is its own
    parameter, loaded from the checkpoint's own output matrix when it stores one, else (RoBERTa
    checkpoints are saved tied: one matrix, as fairseq trains them) a clone of the input
    embeddings. ZO then perturbs it separately (RoBERTa-large: ~407M parameters instead of
    ~355M) and Tr H is that parameterisation's. ``tie_emb`` keeps them tied (the paper's
    ``--tie_emb``). The paper's pooler and classification head never enter its prompt loss,
    so they are left out here.
    """
    from transformers import AutoModelForMaskedLM

    mlm = AutoModelForMaskedLM.from_pretrained(name_or_path, dtype=torch.float32,
                                               local_files_only=local_files_only,
                                               **({"tie_word_embeddings": True} if tie_emb
                                                  else {}))
    if not tie_emb:
        untie(mlm, saved_tensor(name_or_path, DECODER, local_files_only))
    return PromptClassifier(mlm, label_word_ids).to(device)


def untie(mlm: nn.Module, decoder: torch.Tensor | None = None) -> None:
    """Give the MLM head's output matrix its own parameter when it is tied to the input
    embeddings: ``decoder`` (the checkpoint's own output matrix) if given, else a copy of the
    embeddings. A model loaded untied keeps what it loaded."""
    inp, out = mlm.get_input_embeddings(), mlm.get_output_embeddings()
    if out.weight is inp.weight:
        value = inp.weight if decoder is None else decoder.to(inp.weight.dtype)
        if value.shape != inp.weight.shape:
            raise ModelError(f"the checkpoint's {DECODER} has shape {tuple(value.shape)}, the "
                             f"embeddings {tuple(inp.weight.shape)}")
        out.weight = nn.Parameter(value.detach().clone())
    mlm.config.tie_word_embeddings = False


def saved_tensor(name_or_path: str, key: str, local_files_only: bool = False,
                 ) -> torch.Tensor | None:
    """The tensor ``key`` as stored in a checkpoint's weight files (safetensors, sharded or
    not, or pytorch_model.bin), or None when the checkpoint does not store it."""
    from transformers.utils import cached_file

    def get(filename: str) -> str | None:
        return cached_file(name_or_path, filename, local_files_only=local_files_only,
                           _raise_exceptions_for_missing_entries=False)

    index = get("model.safetensors.index.json")
    if index is not None:
        import json

        shard = json.loads(Path(index).read_text())["weight_map"].get(key)
        path = get(shard) if shard else None
    else:
        path = get("model.safetensors")
    if path is not None:
        from safetensors import safe_open

        with safe_open(path, "pt") as f:
            return f.get_tensor(key) if key in f.keys() else None
    path = get("pytorch_model.bin")
    if path is None:
        return None
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True).get(key)


def batch_loss(model: PromptClassifier, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Summed cross-entropy of a batch, in the network's precision (float32 at least)."""
    logits = model(batch["input_ids"], batch["attention_mask"], batch["mask_pos"])
    return F.cross_entropy(_at_least_float32(logits), batch["labels"], reduction="sum")


def rows(chunks: list[dict[str, torch.Tensor]]) -> int:
    return sum(len(c["labels"]) for c in chunks)


@torch.no_grad()
def mean_loss(model: PromptClassifier, chunks: list[dict[str, torch.Tensor]],
              world: World = SINGLE) -> float:
    """Mean cross-entropy over all rows of ``chunks``: float64 chunk sums (each a float32 sum
    unless the network is in float64), this rank's chunks only, added in chunk order — the
    same float for any number of ranks."""
    sums = {i: batch_loss(model, c).double() for i, c in world.mine(chunks)}
    return world.ordered_sum(sums, len(chunks)) / rows(chunks)


@torch.no_grad()
def accuracy(model: PromptClassifier, chunks: list[dict[str, torch.Tensor]],
             world: World = SINGLE) -> float:
    correct = sum(int((model(c["input_ids"], c["attention_mask"], c["mask_pos"]).argmax(-1)
                       == c["labels"]).sum()) for _, c in world.mine(chunks))
    return world.sum_int(correct) / rows(chunks)


# --- loading ---------------------------------------------------------------------------------

def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the model hub answers at all (transformers would retry for ~50 s otherwise)."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def load_tokenizer(name: str, quiet: bool = False):
    """(tokenizer, where the model is: a local folder or a hub name, whether to use the local
    cache only); fails in seconds, with what to do, when the hub is out of reach. ``quiet``:
    no progress bars from the loading that follows."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    from roberta import tiny_random

    if quiet:
        hf_logging.disable_progress_bar()

    if name == tiny_random.NAME:
        name = str(tiny_random.ensure())
    local = Path(name).expanduser().exists()
    if not local and (name.startswith((".", "/", "~")) or name.count("/") > 1):  # not a hub id
        raise ModelError(f"--model {name}: no such folder")
    cached_only = not local and not hub_reachable()  # transformers would retry for ~50 s
    try:
        return AutoTokenizer.from_pretrained(name, local_files_only=cached_only), name, cached_only
    except OSError as exc:
        raise _load_error(name, exc, local) from None


def load_model(name: str, cached_only: bool, label_ids: list[int], device: torch.device,
               tie_emb: bool, dtype: str) -> PromptClassifier:
    try:
        net = load(name, label_ids, device, tie_emb=tie_emb, local_files_only=cached_only)
    except OSError as exc:
        raise _load_error(name, exc, Path(name).expanduser().exists()) from None
    set_precision(net, dtype)
    return net


def _load_error(name: str, exc: OSError, local: bool) -> ModelError:
    from roberta import tiny_random

    hint = ("" if local else f"; offline, download it where there is internet (`hf download "
            f"{name} --local-dir DIR`) and pass --model DIR, or try --model {tiny_random.NAME} "
            "(a small random RoBERTa, CPU demo)")
    return ModelError(f"could not load model {name!r} ({str(exc).splitlines()[0]}){hint}")
