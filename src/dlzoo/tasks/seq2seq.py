"""Seq2seq paradigm: (source, target) string pairs, teacher forcing, evaluation by decoding.

A dataset of the "seq2seq" modality (``data/seqtasks.py``) gives string pairs and their alphabet.
The family objective (e.g. ``families.transformer.seq2seq_objective.Seq2SeqObjective``, protocol
``dlzoo.protocols.Seq2SeqObjective``) supplies:

- ``Config``: pydantic schema of the ``task:`` section;
- ``tokenizer(alphabet)``: an object with ``tokens``, ``pad_id``/``bos_id``/``eos_id`` and
  ``batch(texts, bos=, eos=, length=) -> (N, L) int64``;
- ``loss(model, src, tgt, pad_id=) -> (loss, logs)`` with tgt = <bos> y <eos> <pad>.. (teacher forcing);
- ``generate(model, src, tokenizer=, max_new_tokens=, final=) -> tokens (B, L)``, padded after <eos>.

A round is one epoch over the generated training pairs. The vocabulary goes into config.yaml
(``info.vocabulary``) with the task's longest source and target, so serving rebuilds the tokenizer.

Metrics (``<split>/...``): ``exact_match`` the fraction of sources whose decoded output equals the
target exactly (through <eos>); ``token_accuracy`` the fraction of target tokens (<eos> included)
that the decoded output has at the same position; ``loss`` the teacher-forced cross-entropy per
target token (nats, no label smoothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from dlzoo.tasks.base import Context, Logs, Optimization, TensorBatches, build_model, load_data
from dlzoo.tasks.supervised import record_info

EVAL_BATCH = 500


class Seq2SeqTask:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        Objective = ctx.spec.objective
        self.objective = Objective(Objective.Config(**ctx.cfg.task))
        self.dynamic_dims = ctx.spec.pipeline.dynamic_dims  # export: batch, source and target lengths vary

    def setup(self) -> None:
        ctx, fabric, t = self.ctx, self.ctx.fabric, self.ctx.train
        self.data = load_data(ctx)
        if not hasattr(self.data, "alphabet"):
            from dlzoo.data import list_datasets

            raise ValueError(
                f"dataset {ctx.cfg.data['name']!r} is not a sequence-pair dataset; the seq2seq "
                f"paradigm needs one of the 'seq2seq' modality: {', '.join(list_datasets('seq2seq'))}"
            )
        record_info(ctx, self.data.info)
        self.tok = tok = self.objective.tokenizer(self.data.alphabet)
        self.max_src, self.max_tgt = self.data.max_src_len, self.data.max_tgt_len
        ctx.cfg.info.update(vocabulary=list(tok.tokens), max_src_len=self.max_src, max_tgt_len=self.max_tgt)
        # every split padded to the task's longest source / target (+ <bos>, <eos>)
        self.tensors = {
            name: (
                tok.batch(part.src, length=self.max_src),
                tok.batch(part.tgt, bos=True, eos=True, length=self.max_tgt + 2),
            )
            for name in ("train", "val", "test")
            if (part := getattr(self.data, name)) is not None
        }
        facts = {"vocab_size": len(tok), "pad_id": tok.pad_id, "max_len": max(self.max_src, self.max_tgt + 2)}
        self.model = build_model(ctx, facts)
        self.opt = Optimization(fabric, self.model, t)
        self.batches = TensorBatches(
            *self.tensors["train"],
            batch_size=t.batch_size,
            seed=t.seed,
            rank=fabric.global_rank,
            world=fabric.world_size,
            device=fabric.device,
        )

    def example_inputs(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(src (n, S), tgt_in (n, T)): the first n training pairs, as ``model.forward`` takes them."""
        src, tgt = self.tensors["train"]
        return src[:n].clone(), tgt[:n, :-1].clone()

    def num_rounds(self) -> int:
        return self.ctx.train.epochs

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        self.opt.fmodel.train()
        for src, tgt in self.batches.epoch(round_idx):
            loss, logs = self.objective.loss(self.opt.fmodel, src, tgt, pad_id=self.tok.pad_id)
            self.opt.step(loss)
            yield {"train/loss": loss.detach(), **{f"train/{k}": v.detach() for k, v in logs.items()}}
        self.opt.end_epoch()

    @torch.no_grad()
    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        if split not in self.tensors:
            return {}
        self.model.eval()
        device, pad = self.ctx.fabric.device, self.tok.pad_id
        exact = correct = tokens = 0
        nll = 0.0
        src_all, tgt_all = self.tensors[split]
        for start in range(0, len(src_all), EVAL_BATCH):
            src, tgt = src_all[start : start + EVAL_BATCH].to(device), tgt_all[start : start + EVAL_BATCH].to(device)
            target = tgt[:, 1:]  # (B, T): y <eos> <pad>..
            logits = self.model(src, tgt[:, :-1])  # (B, T, V)
            nll += F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=pad, reduction="sum").item()
            out = self.objective.generate(
                self.model, src, tokenizer=self.tok, max_new_tokens=target.shape[1], final=final
            )  # (B, L), L <= T
            out = F.pad(out, (0, target.shape[1] - out.shape[1]), value=pad)  # (B, T)
            keep = target != pad
            exact += int(((out == target) | ~keep).all(-1).sum())
            correct += int(((out == target) & keep).sum())
            tokens += int(keep.sum())
        return {
            f"{split}/exact_match": exact / len(src_all),
            f"{split}/token_accuracy": correct / tokens,
            f"{split}/loss": nll / tokens,
        }

    def decoded_examples(self, split: str, n: int = 8) -> list[tuple[str, str, str]]:
        """(source, target, decoded) strings of the first n pairs of ``split``: for reports and tests."""
        src, _ = self.tensors[split]
        self.model.eval()
        with torch.no_grad():
            out = self.objective.generate(
                self.model, src[:n].to(self.ctx.fabric.device), tokenizer=self.tok, max_new_tokens=self.max_tgt + 1
            )
        part = getattr(self.data, split)
        return [(part.src[i], part.tgt[i], self.tok.decode(out[i])) for i in range(min(n, len(part)))]

    def state_dict(self) -> dict[str, Any]:
        return self.opt.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state)

    def plots(self, folder: Path) -> list[Path]:
        return self.ctx.spec.plots.draw(self.objective, self.model, self.data, folder)
