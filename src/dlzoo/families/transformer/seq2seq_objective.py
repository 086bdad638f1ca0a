"""The seq2seq objective: teacher-forced cross-entropy, decoding for evaluation, and serving.

Training (Vaswani et al. 2017, sec. 5): the decoder reads <bos> y_1 .. y_{T-1} and is scored on
y_1 .. y_T <eos>; padding positions are ignored:

    L = - 1/|M| sum_{(b, t) in M} log p(y_{b,t} | y_{b,<t}, x_b),   M = target positions that are not <pad>

with optional label smoothing (eps_ls = 0.1 in the paper, sec. 5.4). Evaluation decodes (greedy, or
beam search with ``beam_size > 1``) and compares whole outputs (``tasks/seq2seq.py``).

Serving (``/predict`` on strings) is in ``seq2seq_pipeline.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from dlzoo import protocols
from dlzoo.families.transformer.decoding import generate
from dlzoo.families.transformer.tokenizer import CharTokenizer

MAX_BEAM = 16


class Seq2SeqObjective(protocols.Seq2SeqObjective):
    """Cross-entropy over non-padding target tokens; decoding with the KV cache."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label_smoothing: float = Field(0.0, ge=0, lt=1, description="eps_ls (Vaswani et al. 2017 sec. 5.4: 0.1)")
        beam_size: int = Field(
            1,
            ge=1,
            le=MAX_BEAM,
            description="decoding of the final test evaluation; validation during training is always greedy",
        )
        alpha: float = Field(0.6, ge=0, description="beam search length-penalty exponent (Wu et al. 2016)")

    def __init__(self, cfg: Seq2SeqObjective.Config) -> None:
        self.cfg = cfg

    @staticmethod
    def tokenizer(alphabet: str) -> CharTokenizer:
        return CharTokenizer(alphabet)

    def loss(
        self, model: nn.Module, src: torch.Tensor, tgt: torch.Tensor, *, pad_id: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """src (B, S), tgt (B, T + 1) = <bos> y_1 .. y_T <eos> <pad>.. -> (loss, {"token_accuracy"})."""
        tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]  # (B, T) each: teacher forcing, shifted by one
        logits = model(src, tgt_in)  # (B, T, V)
        loss = F.cross_entropy(
            logits.flatten(0, 1), tgt_out.flatten(), ignore_index=pad_id, label_smoothing=self.cfg.label_smoothing
        )
        keep = tgt_out != pad_id  # (B, T)
        acc = ((logits.argmax(-1) == tgt_out) & keep).sum() / keep.sum()
        return loss, {"token_accuracy": acc}

    def generate(
        self, model: nn.Module, src: torch.Tensor, *, tokenizer: CharTokenizer, max_new_tokens: int, final: bool = False
    ) -> torch.Tensor:
        """Decoded tokens (B, L) (greedy; beam search of ``beam_size`` when ``final``)."""
        beam = self.cfg.beam_size if final else 1
        tokens, _ = generate(
            model,
            src,
            max_new_tokens=max_new_tokens,
            bos_id=tokenizer.bos_id,
            eos_id=tokenizer.eos_id,
            pad_id=tokenizer.pad_id,
            beam_size=beam,
            alpha=self.cfg.alpha,
        )
        return tokens
