"""Language-model paradigm: next-token prediction on a token stream, nanoGPT's training recipe.

    batch:  B random blocks of block_size + 1 tokens from the train stream (nanoGPT's get_batch):
            x = block[:-1], y = block[1:]                                     (B, T) each
    step:   L = -1/(B T) sum_{b,t} log p(y_bt | x_b,<=t),  AdamW, global grad-norm clip
    lr(i):  linear warmup over warmup_iters, cosine decay to min_lr at lr_decay_iters (nanoGPT get_lr)
    round:  eval_interval iterations, then the val loss (a "round" replaces the epoch: train.epochs is
            not used here; the run length is task.max_iters)
    val:    mean loss over eval_iters random val batches (nanoGPT's estimate_loss), drawn with a fixed
            seed so every estimate uses the same batches and re-evaluation reproduces it exactly

Models: any ``forward(idx (B, T) int64) -> logits (B, T, V)``; the builder may take ``vocab_size``
and ``block_size``, which are filled from the data and this config. The vocabulary is written to
``config.yaml`` (``info.vocab``), so ``load_run`` and the server rebuild the tokenizer. The family
objective (``dlzoo.protocols.LanguageObjective``) supplies ``Config`` (``dlzoo.paradigms.LanguageConfig``
or a subclass) and ``loss(model, x, y)``. ``train.epochs``, ``train.momentum`` and ``train.scheduler``
are not read here (``dlzoo.paradigms`` says what to set instead).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from dlzoo.objectives import cross_entropy_lm
from dlzoo.optim import decay_groups, make_optimizer
from dlzoo.paradigms import LanguageConfig
from dlzoo.tasks.base import Context, Logs, build_model, load_data
from dlzoo.tasks.microbatch import Microbatches

__all__ = ["LanguageConfig", "LanguageTask", "blocks_at", "cross_entropy_lm", "learning_rate"]

EVAL_SEED = 1337  # the val/test batches of estimate_loss come from a generator with this seed
EVAL_CHUNK = 256  # blocks per forward pass in evaluation


def learning_rate(it: int, *, lr: float, cfg: LanguageConfig) -> float:
    """nanoGPT's get_lr: linear warmup, then cosine decay from lr to min_lr, then min_lr."""
    if not cfg.decay_lr:
        return lr
    if it < cfg.warmup_iters:
        return lr * (it + 1) / (cfg.warmup_iters + 1)
    decay_iters = cfg.lr_decay_iters or cfg.max_iters
    if it > decay_iters:
        return cfg.min_lr
    ratio = (it - cfg.warmup_iters) / max(1, decay_iters - cfg.warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))  # 1 -> 0
    return cfg.min_lr + coeff * (lr - cfg.min_lr)


def blocks_at(stream: torch.Tensor, starts: torch.Tensor, length: int) -> torch.Tensor:
    """stream (N,), starts (B,) -> (B, length): stream[s : s + length] for every start s."""
    return stream[starts[:, None] + torch.arange(length, device=stream.device)]


class LanguageTask:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        Objective = ctx.spec.objective
        self.objective = Objective(Objective.Config(**ctx.cfg.task))
        self.cfg: LanguageConfig = self.objective.cfg

    # -- setup ---------------------------------------------------------------------------------
    def setup(self) -> None:
        ctx, fabric, t, c = self.ctx, self.ctx.fabric, self.ctx.train, self.cfg
        self.data = load_data(ctx)
        info = self.data.info
        for split in ("train", "val", "test"):
            if len(getattr(self.data, split)) <= c.block_size:
                raise ValueError(
                    f"{info.name}: the {split} split has {len(getattr(self.data, split))} tokens, "
                    f"fewer than task.block_size + 1 = {c.block_size + 1}"
                )
        ctx.cfg.info.update(
            dataset=info.name,
            dataset_version=info.version,
            data_task="language",
            tokenizer="char",
            vocab=self.data.vocab,
            vocab_size=len(self.data.vocab),
            splits=dict(info.splits),
            split_note=info.split_note,
        )
        self.model = build_model(ctx, {"vocab_size": len(self.data.vocab), "block_size": c.block_size})
        model_block = getattr(self.model, "block_size", None)
        if model_block is not None and model_block < c.block_size:
            raise ValueError(f"model.block_size ({model_block}) is smaller than task.block_size ({c.block_size})")
        device = fabric.device
        self.streams = {s: getattr(self.data, s).to(device) for s in ("train", "val", "test")}
        if t.batch_size % fabric.world_size:
            raise ValueError(f"batch_size {t.batch_size} must be divisible by the {fabric.world_size} processes")
        self.local_batch = t.batch_size // fabric.world_size
        # CPU execution setting (off by default): the step's batch as micro-batches in threads
        self.micro = Microbatches(
            c.microbatch_threads,
            model=self.model,
            batch=self.local_batch,
            world_size=fabric.world_size,
            device=fabric.device,
        )
        # nanoGPT's AdamW: decay on matrices only, betas from task:, the fused kernel; SGD's momentum is beta1
        optimizer = make_optimizer(
            decay_groups(self.model, t.weight_decay), t, betas=(c.beta1, c.beta2), momentum=c.beta1, fused=True
        )
        self.fmodel, self.optimizer = fabric.setup(self.model, optimizer)
        self.forward = torch.compile(self.fmodel) if c.compile else self.fmodel

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The objective's next-token loss of a batch x, y (B, T) through the (compiled) wrapped model."""
        return self.objective.loss(self.forward, x, y)

    def num_rounds(self) -> int:
        return math.ceil(self.cfg.max_iters / self.cfg.eval_interval)

    # -- training ------------------------------------------------------------------------------
    def train_round(self, round_idx: int) -> Iterator[Logs]:
        c, t, fabric = self.cfg, self.ctx.train, self.ctx.fabric
        first = round_idx * c.eval_interval
        iters = min(c.eval_interval, c.max_iters - first)
        # every start index of the round at once, from (seed, round, rank): resume replays the same batches
        g = torch.Generator().manual_seed(t.seed * 1_000_003 + round_idx * 1009 + fabric.global_rank)
        train = self.streams["train"]
        starts = torch.randint(len(train) - c.block_size, (iters, self.local_batch), generator=g).to(train.device)
        self.fmodel.train()
        for i in range(iters):
            lr = learning_rate(first + i, lr=t.lr, cfg=c)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            block = blocks_at(train, starts[i], c.block_size + 1)  # (B, T + 1)
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.micro.backward(self.loss, block[:, :-1], block[:, 1:], backward=fabric.backward)
            if t.grad_clip is not None:
                fabric.clip_gradients(self.fmodel, self.optimizer, max_norm=t.grad_clip)
            self.optimizer.step()
            yield {"train/loss": loss, "train/lr": lr}

    # -- evaluation ----------------------------------------------------------------------------
    def _mean_loss(self, blocks: torch.Tensor) -> float:
        """Mean next-token loss over blocks (N, T + 1), evaluated EVAL_CHUNK blocks at a time."""

        def summed(chunk: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():  # grad mode is per thread
                return cross_entropy_lm(self.model(chunk[:, :-1]), chunk[:, 1:], reduction="sum").double()

        parts = self.micro.map(summed, blocks.split(self.micro.chunk_size(len(blocks), at_most=EVAL_CHUNK)))
        return float(torch.stack(parts).sum()) / (blocks.shape[0] * (blocks.shape[1] - 1))  # sum in a fixed order

    def estimate_loss(self, split: str) -> float:
        """nanoGPT's estimate_loss: mean over eval_iters random batches (fixed seed: the same batches each time)."""
        c = self.cfg
        stream = self.streams[split]
        n = c.eval_iters * (c.eval_batch_size or self.ctx.train.batch_size)
        g = torch.Generator().manual_seed(EVAL_SEED)
        starts = torch.randint(len(stream) - c.block_size, (n,), generator=g).to(stream.device)
        return self._mean_loss(blocks_at(stream, starts, c.block_size + 1))

    def full_loss(self, split: str) -> float:
        """Every token of the split predicted once, in consecutive non-overlapping blocks of block_size."""
        stream, T = self.streams[split], self.cfg.block_size
        n = (len(stream) - 1) // T
        starts = torch.arange(n, device=stream.device) * T
        return self._mean_loss(blocks_at(stream, starts, T + 1))

    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        """{split}/loss (nats per token, the estimate) and {split}/bpc; final test adds loss_full / bpc_full."""
        self.model.eval()
        loss = self.estimate_loss(split)
        out = {f"{split}/loss": loss, f"{split}/bpc": loss / math.log(2)}
        if final and self.cfg.full_eval:
            full = self.full_loss(split)
            out.update({f"{split}/loss_full": full, f"{split}/bpc_full": full / math.log(2)})
        return out

    # -- contract / export ---------------------------------------------------------------------
    def example_inputs(self, n: int) -> tuple[torch.Tensor]:
        """n consecutive val blocks of block_size tokens: (idx (n, T) int64,)."""
        stream, T = self.streams["val"].cpu(), self.cfg.block_size
        starts = (torch.arange(n) * T) % max(1, len(stream) - T)
        return (blocks_at(stream, starts, T),)

    dynamic_dims = ({0: "batch", 1: "seq"},)  # batch and sequence length (<= block_size) both vary

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])

    def plots(self, folder: Path) -> list[Path]:
        return self.ctx.spec.plots.draw(self.objective, self.model, self.data, folder)
