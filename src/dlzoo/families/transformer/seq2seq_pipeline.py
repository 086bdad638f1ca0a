"""Serving and export of the seq2seq transformer: ``/predict`` decodes source strings.

``POST /v1/models/{name}/predict`` with ``{"inputs": ["201120", "12+34"]}`` (strings, one character
per token, or lists of token strings) -> ``{"outputs": ["001122", ...], "scores": [...]}``. The
tokenizer is rebuilt from ``info.vocabulary`` in the run's config.yaml.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dlzoo.families.transformer.decoding import generate
from dlzoo.families.transformer.seq2seq_objective import MAX_BEAM
from dlzoo.families.transformer.tokenizer import CharTokenizer, TokenizerError
from dlzoo.protocols import Dynamic, Pipeline
from dlzoo.validation import InputError

MAX_INPUTS = 1024  # sources per request


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


class Seq2SeqPipeline(Pipeline):
    requests: ClassVar[dict[str, type[BaseModel]]] = {"predict": PredictRequest}
    #: export: batch, source length and target length all vary
    dynamic_dims: ClassVar[Dynamic] = ({0: "batch", 1: "src_len"}, {0: "batch", 1: "tgt_len"})

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
