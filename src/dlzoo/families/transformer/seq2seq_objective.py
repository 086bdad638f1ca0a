"""The seq2seq objective: teacher-forced cross-entropy, decoding for evaluation, and serving.

Training (Vaswani et al. 2017, sec. 5): the decoder reads <bos> y_1 .. y_{T-1} and is scored on
y_1 .. y_T <eos>; padding positions are ignored:

    L = - 1/|M| sum_{(b, t) in M} log p(y_{b,t} | y_{b,<t}, x_b),   M = target positions that are not <pad>

with optional label smoothing (eps_ls = 0.1 in the paper, sec. 5.4). Evaluation decodes (greedy, or
beam search with ``beam_size > 1``) and compares whole outputs (``tasks/seq2seq.py``).

Serving: ``POST /v1/models/{name}/predict`` with ``{"inputs": ["201120", "12+34"]}`` (strings, one
character per token, or lists of token strings) -> ``{"outputs": ["001122", ...], "scores": [...]}``.
The tokenizer is rebuilt from ``info.vocabulary`` in the run's config.yaml.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from dlzoo.families.transformer.decoding import generate
from dlzoo.families.transformer.tokenizer import CharTokenizer, TokenizerError

MAX_INPUTS = 1024  # sources per request
MAX_BEAM = 16


class PredictRequest(BaseModel):
    """Body of ``/predict`` for a seq2seq model."""

    model_config = ConfigDict(extra="forbid")
    inputs: list[str | list[str]] = Field(
        ...,
        min_length=1,
        max_length=MAX_INPUTS,
        description="sources: strings (one character per token) or token lists",
    )
    beam_size: int = Field(1, ge=1, le=MAX_BEAM, description="1 = greedy decoding, else beam search")
    alpha: float = Field(0.6, ge=0, le=5, description="beam search length-penalty exponent (GNMT eq. 14)")
    max_new_tokens: int | None = Field(None, ge=1, description="default: the task's longest target + <eos>")

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        """A bare list of sources is ``{"inputs": [...]}`` (``dlzoo predict`` passes the inputs alone)."""
        return {"inputs": data} if isinstance(data, list) else data


class Seq2SeqObjective:
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

    requests: ClassVar[dict[str, type[BaseModel]]] = {"predict": PredictRequest}
    #: export: batch, source length and target length all vary
    dynamic_dims = ({0: "batch", 1: "src_len"}, {0: "batch", 1: "tgt_len"})

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

    # -- export and serving (static: they get a loaded run, not a training objective) -------------

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n random (src, tgt_in) pairs over the run's vocabulary, of the task's longest lengths."""
        tok = run_tokenizer(loaded)
        info = loaded.config.info
        g = torch.Generator().manual_seed(n)
        src = torch.randint(3, len(tok), (n, int(info["max_src_len"])), generator=g)  # (n, S): no specials
        tgt_in = torch.randint(3, len(tok), (n, int(info["max_tgt_len"]) + 1), generator=g)  # (n, T)
        tgt_in[:, 0] = tok.bos_id
        return src, tgt_in

    @staticmethod
    @torch.no_grad()
    def serve(verb: str, loaded: Any, body: PredictRequest) -> dict[str, Any]:
        """``predict``: sources -> decoded strings and their scores."""
        from dlzoo.inference import InputError  # serving-side error type (422)

        if verb != "predict":
            raise InputError(f"{loaded.spec.name} serves 'predict', not {verb!r}")
        tok, info = run_tokenizer(loaded), loaded.config.info
        max_src = int(info["max_src_len"])
        for i, text in enumerate(body.inputs):
            try:
                ids = tok.encode(text)
            except TokenizerError as e:
                raise InputError(f"inputs[{i}]: {e}") from None
            if not ids:
                raise InputError(f"inputs[{i}]: empty source; send at least one symbol of {tok.alphabet!r}")
            if len(ids) > max_src:
                raise InputError(
                    f"inputs[{i}]: {len(ids)} symbols, over the longest source the model was trained "
                    f"on ({max_src}); send at most {max_src}"
                )
        src = tok.batch(body.inputs)  # (B, S), right-padded with <pad>
        limit = loaded.model.max_len - 1  # <bos> + generated tokens must fit the position table
        steps = body.max_new_tokens or int(info["max_tgt_len"]) + 1
        if steps > limit:
            raise InputError(f"max_new_tokens={steps} is over the model's limit of {limit}")
        tokens, scores = generate(
            loaded.model,
            src,
            max_new_tokens=steps,
            bos_id=tok.bos_id,
            eos_id=tok.eos_id,
            pad_id=tok.pad_id,
            beam_size=body.beam_size,
            alpha=body.alpha,
        )
        return {
            "outputs": [tok.decode(t) for t in tokens],
            "scores": scores.tolist(),
            "decoding": "greedy" if body.beam_size == 1 else f"beam search, K={body.beam_size}",
        }


def run_tokenizer(loaded: Any) -> CharTokenizer:
    """The tokenizer a run was trained with, from ``info.vocabulary`` in its config.yaml."""
    vocab = loaded.config.info.get("vocabulary")
    if not vocab:
        raise ValueError(f"{loaded.run.path}: config.yaml has no info.vocabulary (not a seq2seq run?)")
    return CharTokenizer.from_vocabulary(vocab)
