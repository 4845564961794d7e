"""An MLM as a prompt classifier: class logits are the MLM logits at <mask> over the label words.

Only the mask position goes through the LM head (B × H → B × V), never all positions
(B × L × V would be 1.6 GB for RoBERTa-large at batch 64, length 128).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F


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


def load(name_or_path: str, label_word_ids: list[int], device: torch.device | str = "cpu",
         tie_emb: bool = False, local_files_only: bool = False) -> PromptClassifier:
    """AutoModelForMaskedLM from a hub name or a local folder, as a prompt classifier (fp32).

    Untied by default, like the paper's ``RobertaModelForPromptFinetuning`` ("the input
    embeddings and the output embeddings are NOT tied"): the LM head's output weight is its own
    parameter, starting from the checkpoint's value. RoBERTa checkpoints are saved tied (one
    matrix), so that value is the input embedding matrix, cloned. ZO then perturbs it separately
    (RoBERTa-large: ~407M parameters instead of ~355M) and Tr H is that parameterisation's.
    ``tie_emb`` keeps them tied (the paper's ``--tie_emb``). The paper's pooler and
    classification head never enter its prompt loss, so they are left out here.
    """
    from transformers import AutoModelForMaskedLM

    mlm = AutoModelForMaskedLM.from_pretrained(name_or_path, dtype=torch.float32,
                                               local_files_only=local_files_only,
                                               **({"tie_word_embeddings": True} if tie_emb
                                                  else {}))
    if not tie_emb:
        untie(mlm)
    return PromptClassifier(mlm, label_word_ids).to(device)


def untie(mlm: nn.Module) -> None:
    """Give the MLM head's output matrix its own parameter (a copy of the input embeddings when
    the two are tied); no-op for a model saved untied."""
    inp, out = mlm.get_input_embeddings(), mlm.get_output_embeddings()
    if out.weight is inp.weight:
        out.weight = nn.Parameter(inp.weight.detach().clone())
    mlm.config.tie_word_embeddings = False


def batch_loss(model: PromptClassifier, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Summed cross-entropy of a batch, in the network's precision (float32 at least)."""
    logits = model(batch["input_ids"], batch["attention_mask"], batch["mask_pos"])
    return F.cross_entropy(_at_least_float32(logits), batch["labels"], reduction="sum")


@torch.no_grad()
def chunk_losses(model: PromptClassifier, chunks: list[dict[str, torch.Tensor]]) -> list[float]:
    """Summed cross-entropy of each chunk, as float64, in chunk order; one device-to-host
    synchronisation. Partial sums that ranks of a data-parallel run can combine in a fixed
    order; each is a float32 sum unless the network is in float64 (``float64``)."""
    return torch.stack([batch_loss(model, batch).double() for batch in chunks]).tolist()


def mean_loss(model: PromptClassifier, chunks: list[dict[str, torch.Tensor]]) -> float:
    """Mean cross-entropy over all rows of ``chunks``: the chunk losses summed in float64 in
    chunk order, over the row count."""
    return sum(chunk_losses(model, chunks)) / sum(len(batch["labels"]) for batch in chunks)


@torch.no_grad()
def accuracy(model: PromptClassifier, chunks: list[dict[str, torch.Tensor]]) -> float:
    correct = rows = 0
    for batch in chunks:
        logits = model(batch["input_ids"], batch["attention_mask"], batch["mask_pos"])
        correct += int((logits.argmax(-1) == batch["labels"]).sum())
        rows += len(batch["labels"])
    return correct / rows
