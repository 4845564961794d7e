"""The first-order baseline's step, as the paper's GD took it through the HF trainer.

Train mode (dropout on), the mean loss of the batch (its chunks) backpropagated chunk by chunk,
the gradients summed over the ranks (distributed.py), clipping at ``max_grad_norm`` (the
trainer's default 1.0), then θ ← θ − lr·∇f, plain SGD with a constant rate.
"""

from __future__ import annotations

import numpy as np
import torch

from roberta import distributed, model
from roberta.distributed import World


def dropout_seed(seed: int, step: int, chunk: int) -> int:
    """GD's dropout masks are a function of (run seed, step, chunk), so a chunk draws the same
    masks whichever rank computes it."""
    return int(np.random.SeedSequence([seed, step, chunk]).generate_state(1)[0])


def gd_step(net: model.PromptClassifier, params: list[torch.Tensor], batch: list[dict],
            lr: float, max_grad_norm: float | None, *, world: World = distributed.SINGLE,
            seed: int = 0, step: int = 0) -> float:
    """One first-order SGD step on the mean loss of ``batch`` (its chunks); returns that loss.

    Train mode (dropout on) and gradient clipping unless ``max_grad_norm`` is None, as the
    paper's GD through the HF trainer's training_step. Parameters the loss does not reach
    (no gradient) stay as they are.
    """
    net.train()
    losses = {}
    for i, b in world.mine(batch):
        torch.manual_seed(dropout_seed(seed, step, i))
        loss = model.batch_loss(net, b) / model.rows(batch)
        loss.backward()
        losses[i] = loss.detach()
    world.all_reduce_grads(params)
    with_grad = [p for p in params if p.grad is not None]
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(with_grad, max_grad_norm)
    with torch.no_grad():
        for p in with_grad:
            p.add_(p.grad, alpha=-lr)
            p.grad = None
    net.eval()
    return world.ordered_sum(losses, len(batch))
