"""A character tokenizer for the synthetic seq2seq tasks: one symbol = one token.

Vocabulary: the three specials first, then the task's alphabet in the order given::

    <pad>=0  <bos>=1  <eos>=2  "0"=3  "1"=4 ...  "+"=13

``encode("12+3")`` -> [4, 5, 13, 6]; ``decode`` stops at the first <eos> and drops <pad>/<bos>.
The vocabulary is a list of strings, saved in a run's config.yaml (``info.vocabulary``), so serving
rebuilds exactly the tokenizer the model was trained with: ``CharTokenizer.from_vocabulary(tokens)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)


class TokenizerError(ValueError):
    """Text the vocabulary cannot encode; the message names the symbol, where it is, and the valid ones."""


class CharTokenizer:
    """Characters <-> ids. ``alphabet`` holds the non-special symbols, each a single character."""

    def __init__(self, alphabet: str) -> None:
        if len(set(alphabet)) != len(alphabet) or any(c.isspace() for c in alphabet):
            raise TokenizerError(f"alphabet {alphabet!r}: symbols must be distinct and not whitespace")
        self.tokens: tuple[str, ...] = (*SPECIALS, *alphabet)
        self.alphabet = alphabet
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id, self.bos_id, self.eos_id = (self.index[t] for t in SPECIALS)

    @classmethod
    def from_vocabulary(cls, tokens: Sequence[str]) -> CharTokenizer:
        """Rebuild from ``tokens`` as saved by :attr:`tokens` (specials first)."""
        tokens = list(tokens)
        if tuple(tokens[:3]) != SPECIALS:
            raise TokenizerError(f"vocabulary must start with {list(SPECIALS)}, got {tokens[:3]}")
        return cls("".join(tokens[3:]))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str | Sequence[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        """A string (each character one token; spaces are ignored) or a list of token strings -> ids."""
        symbols = [c for c in text if not c.isspace()] if isinstance(text, str) else list(text)
        ids = [self.index.get(s, -1) for s in symbols]
        if -1 in ids:
            at = ids.index(-1)
            raise TokenizerError(
                f"symbol {symbols[at]!r} at position {at} is not in the vocabulary; "
                f"valid symbols: {' '.join(self.alphabet)}"
            )
        if any(i < len(SPECIALS) for i in ids):
            raise TokenizerError(f"special tokens {list(SPECIALS)} are added by the model, not sent as input")
        return [self.bos_id] * bos + ids + [self.eos_id] * eos

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Ids -> string, stopping at the first <eos>; <pad> and <bos> are dropped."""
        out = []
        for i in ids.tolist() if isinstance(ids, torch.Tensor) else ids:
            if i == self.eos_id:
                break
            if i >= len(SPECIALS):
                out.append(self.tokens[i])
        return "".join(out)

    def batch(
        self, texts: Sequence[str | Sequence[str]], *, bos: bool = False, eos: bool = False, length: int | None = None
    ) -> torch.Tensor:
        """Encode and right-pad with <pad> to ``length`` (default: the longest) -> (N, L) int64."""
        rows = [self.encode(t, bos=bos, eos=eos) for t in texts]
        L = length if length is not None else max(map(len, rows), default=0)
        out = torch.full((len(rows), L), self.pad_id, dtype=torch.long)  # (N, L)
        for r, ids in enumerate(rows):
            if len(ids) > L:
                raise TokenizerError(f"sequence {r} has {len(ids)} tokens, over the length {L}")
            out[r, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out
