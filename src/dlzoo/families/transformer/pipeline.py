"""Serving of language models (GPT, char-RNN): a prompt in, its continuation out, streamed if asked.

Works for any model on the language paradigm whose ``generate(idx, *, max_new_tokens, temperature, top_k, top_p,
generator)`` appends tokens to idx (B, T). ``iter_generate`` (same arguments, yields (B, 1) per
step) lets a response stream token by token.

Serving: ``POST /v1/models/{name}/sample`` with :class:`SampleText`. The prompt is encoded with the
run's vocabulary (``info.vocab`` in config.yaml). Bad input is a 422 with one line saying why:
characters outside the vocabulary (listed), an empty prompt, a prompt over MAX_PROMPT_CHARS,
max_new_tokens outside 1..MAX_NEW_TOKENS, temperature/top_k/top_p out of range. A prompt longer than
the context is truncated, as nanoGPT does: the model conditions on its last ``block_size``
characters (the response says ``"prompt_truncated": true``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dlzoo.data.text import CharTokenizer
from dlzoo.protocols import Dynamic, Pipeline
from dlzoo.validation import InputError

MAX_NEW_TOKENS = 4096  # per request; longer generations are refused (422), not truncated
MAX_PROMPT_CHARS = 100_000
MAX_SAMPLES_PER_REQUEST = 16
MIN_TEMPERATURE = 1e-3  # smallest non-zero temperature: logits / 1e-300 overflow to inf and sampling fails


class SampleText(BaseModel):
    """Body of ``/sample`` for a language model."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        "\n",
        max_length=MAX_PROMPT_CHARS,
        description="text to continue (characters of the model's vocabulary); the last "
        "block_size characters are used when it is longer than the context",
    )
    max_new_tokens: int = Field(200, ge=1, le=MAX_NEW_TOKENS, strict=True, description="characters to generate")
    temperature: float = Field(
        1.0, ge=0, le=100, description=f"softmax temperature: 0 (greedy) or {MIN_TEMPERATURE:g} to 100"
    )
    top_k: int | None = Field(None, ge=1, strict=True, description="sample among the k most likely tokens")
    top_p: float | None = Field(None, gt=0, le=1, description="nucleus sampling: smallest set with mass >= top_p")
    n: int = Field(1, ge=1, le=MAX_SAMPLES_PER_REQUEST, strict=True, description="independent continuations")
    seed: int = Field(0, ge=0, le=2**63 - 1, strict=True, description="same seed, same text")
    stream: bool = Field(
        False,
        description="stream application/x-ndjson lines {'text': <char>} as they are "
        "generated ({'sample': i, 'text': <char>} when n > 1), then {'done': true}",
    )

    @field_validator("temperature")
    @classmethod
    def _greedy_or_not_tiny(cls, t: float) -> float:
        if 0 < t < MIN_TEMPERATURE:
            raise ValueError(
                f"temperature must be 0 (greedy) or between {MIN_TEMPERATURE:g} and 100, got {t:g}; "
                f"smaller temperatures overflow the logits"
            )
        return t


class LanguagePipeline(Pipeline):
    """``/sample`` with :class:`SampleText`; export inputs are token ids (batch and length vary)."""

    requests: ClassVar[dict[str, type[BaseModel]]] = {"sample": SampleText}

    @staticmethod
    def tokenizer(loaded: Any) -> CharTokenizer:
        vocab = loaded.config.info.get("vocab")
        if not vocab:
            raise InputError(f"{loaded.spec.name}: the run has no vocabulary (info.vocab in config.yaml)")
        return CharTokenizer(vocab)

    @staticmethod
    def serve(verb: str, loaded: Any, body: SampleText) -> dict[str, Any] | Iterator[dict[str, Any]]:
        """Validate the prompt now (errors become a 422 before any streaming starts), then generate."""
        if verb != "sample":
            raise InputError(f"{loaded.spec.name} serves sample, not {verb}")
        tok = LanguagePipeline.tokenizer(loaded)
        if body.prompt == "":
            raise InputError('prompt is empty: send at least one character, e.g. "\\n" (the default)')
        bad = tok.unknown(body.prompt)
        if bad:
            raise InputError(
                f"prompt has {len(bad)} character(s) outside the model's vocabulary: "
                f"{''.join(bad)!r}; the vocabulary is {tok.vocab!r}"
            )
        block = int(getattr(loaded.model, "block_size", 0) or len(body.prompt))
        ids = tok.encode(body.prompt[-block:])  # nanoGPT crops the context to its last block_size tokens
        idx = ids.unsqueeze(0).repeat(body.n, 1)  # (n, T)
        kwargs = dict(
            max_new_tokens=body.max_new_tokens,
            temperature=body.temperature,
            top_k=body.top_k,
            top_p=body.top_p,
            generator=torch.Generator().manual_seed(body.seed),
        )
        meta = {"prompt_tokens": len(body.prompt), "prompt_truncated": len(body.prompt) > block, "seed": body.seed}
        if body.stream:
            return _stream(loaded.model, idx, tok, kwargs)
        with torch.no_grad():
            out = loaded.model.generate(idx, **kwargs)  # (n, T + max_new_tokens)
        completions = [tok.decode(row[idx.shape[1] :]) for row in out]
        return {"completions": completions, **meta}

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor]:
        """(idx (n, T) int64,): random token ids, T = block_size (half of it for n = 1, so that the
        export's parity check also runs another sequence length)."""
        vocab_size = int(loaded.config.model["vocab_size"])
        block = int(loaded.config.model.get("block_size") or loaded.config.task["block_size"])
        T = max(1, block // 2) if n == 1 else block
        return (torch.randint(vocab_size, (n, T), generator=torch.Generator().manual_seed(n)),)

    dynamic_dims: ClassVar[Dynamic] = ({0: "batch", 1: "seq"},)  # batch and sequence length (<= block_size) vary


def _stream(
    model: Any, idx: torch.Tensor, tok: CharTokenizer, kwargs: dict[str, Any]
) -> Iterator[str | dict[str, Any]]:
    """The characters as they are generated: plain strings for one sample (the server sends
    {"text": c} per line), {"sample": i, "text": c} when several are generated at once."""
    step = getattr(model, "iter_generate", None)
    # no `with torch.no_grad()` here: a server may resume this generator on another thread, and grad
    # mode is per thread; generate / iter_generate are decorated with torch.no_grad, which handles that
    if step is None:  # a model without a token iterator: generate first, then stream the text
        new = model.generate(idx, **kwargs)[:, idx.shape[1] :].split(1, dim=1)
    else:
        new = step(idx, **kwargs)
    for next_id in new:  # (n, 1)
        tokens = next_id[:, 0].tolist()
        if len(tokens) == 1:
            yield tok.vocab[tokens[0]]
        else:
            for i, token in enumerate(tokens):
                yield {"sample": i, "text": tok.vocab[token]}
