"""Recurrent networks: a layer that runs our cells over time, and the models built on it.

``RecurrentLayer`` keeps its weights in a ``torch.nn.RNN/LSTM/GRU`` (names ``rnn.weight_ih_l0``,
``rnn.weight_hh_l0_reverse``, ...). With ``fused=True`` it calls that module (cuDNN / oneDNN kernels,
fast); with ``fused=False`` it unrolls the step functions of ``cells.py`` in Python, the teaching
path. Both read the same parameters, so a state dict trained one way loads and runs the other way,
and the parity tests check that both give the same outputs and gradients.

    h^(l)_t = cell(h^(l-1)_t, h^(l)_{t-1})                  stacked: layer l reads layer l-1's outputs
    h_t     = [h->_t ; h<-_t]                               bidirectional (Schuster & Paliwal 1997)

Variable lengths: ``lengths`` (B,) gives each sequence's valid steps; padded steps do not touch the
state (the final state is the one at step lengths[b] - 1), the reverse direction starts at each
sequence's own last step, and outputs at padded steps are 0, as with ``pack_padded_sequence``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.families.rnn.cells import State, gru_step, lstm_step, rnn_step
from dlzoo.layers import Standardize
from dlzoo.registry import choices_error

TORCH_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def check_lengths(lengths: torch.Tensor, batch: int, steps: int) -> torch.Tensor:
    """(B,) integer lengths in 1..T, else a ValueError that says what was expected."""
    if lengths.ndim != 1 or lengths.shape[0] != batch:
        raise ValueError(f"lengths must have shape ({batch},) (one per sequence), got {tuple(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > steps):
        raise ValueError(
            f"lengths must be between 1 and the padded length {steps}, got min {int(lengths.min())} "
            f"and max {int(lengths.max())}"
        )
    return lengths.long()


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse each sequence within its own length: x[b, :len_b] flipped, padding left in place."""
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.shape[1], device=x.device)  # (T,)
    idx = lengths[:, None].to(x.device) - 1 - steps[None]  # (B, T)
    idx = torch.where(idx >= 0, idx, steps[None].expand_as(idx))  # padded steps map to themselves
    return x.gather(1, idx[..., None].expand_as(x))  # (B, T, C)


class RecurrentLayer(nn.Module):
    """Stacked, optionally bidirectional RNN / LSTM / GRU over batch-first sequences.

    Args:
        cell: "rnn" (Elman, tanh), "lstm" or "gru".
        input_size: features per step F.
        hidden_size: H, per direction.
        num_layers: stacked layers L.
        bidirectional: also run every layer backwards in time (D = 2).
        dropout: on the outputs of every layer but the last, in training (as torch.nn.LSTM).
        fused: run torch's fused kernels (True) or our cells step by step (False); same weights.

    Shapes:
        x (B, T, F), lengths (B,) or None, state: tuple of (L*D, B, H) or None ->
        out (B, T, D*H), state: (h_n,) or (h_n, c_n) for LSTM, each (L*D, B, H).
    """

    def __init__(
        self,
        *,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if cell not in TORCH_MODULES:
            raise ValueError(choices_error("cell", cell, list(TORCH_MODULES)))
        self.cell, self.fused = cell, fused
        self.num_layers, self.directions, self.hidden_size = num_layers, 2 if bidirectional else 1, hidden_size
        self.input_size = input_size
        # the parameter store (and the fused path): torch's own layout, weight_ih_l{k}[_reverse] ...
        self.rnn = TORCH_MODULES[cell](
            input_size,
            hidden_size,
            num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = dropout

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"expected input (batch, steps, {self.input_size}), got {tuple(x.shape)}")
        if lengths is not None:
            lengths = check_lengths(lengths, x.shape[0], x.shape[1])
        if self.fused:
            return self._fused(x, lengths, state)
        return self._unrolled(x, lengths, state)

    def _fused(self, x: torch.Tensor, lengths: torch.Tensor | None, state: State | None) -> tuple[torch.Tensor, State]:
        hx = None if state is None else (state if self.cell == "lstm" else state[0])
        if lengths is None:
            out, hn = self.rnn(x, hx)  # (B, T, D*H)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, hn = self.rnn(packed, hx)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out, (tuple(hn) if self.cell == "lstm" else (hn,))

    def _unrolled(
        self, x: torch.Tensor, lengths: torch.Tensor | None, state: State | None
    ) -> tuple[torch.Tensor, State]:
        B, T, _ = x.shape
        n_state = 2 if self.cell == "lstm" else 1
        if state is None:
            zeros = x.new_zeros(self.num_layers * self.directions, B, self.hidden_size)  # (L*D, B, H)
            state = (zeros,) * n_state
        mask = None if lengths is None else torch.arange(T, device=x.device)[None] < lengths[:, None].to(x.device)
        finals: list[State] = []
        layer_in = x  # (B, T, F) then (B, T, D*H)
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.directions):
                k = layer * self.directions + d
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                w_ih, w_hh, b_ih, b_hh = (
                    getattr(self.rnn, f"{n}{suffix}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                )
                seq = layer_in if d == 0 else reverse_padded(layer_in, lengths)
                gx = seq @ w_ih.T + b_ih  # (B, T, G*H): all input projections at once
                y, final = self._scan(gx, tuple(s[k] for s in state), w_hh, b_hh, mask)  # (B, T, H)
                outs.append(y if d == 0 else reverse_padded(y, lengths))
                finals.append(final)
            layer_in = torch.cat(outs, dim=-1)  # (B, T, D*H)
            if self.dropout > 0 and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, self.training)
        return layer_in, tuple(torch.stack([f[i] for f in finals]) for i in range(n_state))

    def _scan(
        self, gx: torch.Tensor, s: State, w_hh: torch.Tensor, b_hh: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        """The recurrence: one cell step per time step; padded steps keep the previous state."""
        ys = []
        for t in range(gx.shape[1]):
            if self.cell == "lstm":
                new = lstm_step(gx[:, t], s, w_hh, b_hh)
            elif self.cell == "gru":
                new = gru_step(gx[:, t], s, w_hh, b_hh)
            else:
                new = rnn_step(gx[:, t], s, w_hh, b_hh)
            if mask is not None:
                m = mask[:, t, None]  # (B, 1)
                new = tuple(torch.where(m, n, o) for n, o in zip(new, s, strict=True))
            s = new
            ys.append(s[0])
        y = torch.stack(ys, dim=1)  # (B, T, H)
        return (y if mask is None else y * mask[..., None]), s


class SequenceStandardize(Standardize):
    """Per-feature standardization of (B, T, F) sequences: statistics over all examples and steps."""

    @torch.no_grad()
    def fit(self, data: torch.Tensor) -> None:
        super().fit(data.reshape(-1, *self.mean.shape))


class SequenceModel(nn.Module):
    """Sequence -> vector: a recurrent encoder read out at each sequence's last step.

    Classification (logits) or regression/forecasting (target units) from the final hidden state of
    the top layer, both directions concatenated: feat = [h->_T ; h<-_1] (B, D*H).

    Args:
        cell: recurrent cell: "rnn" (Elman, tanh) | "lstm" (Hochreiter & Schmidhuber 1997) | "gru" (Cho et al. 2014).
        in_features: F, features per time step.
        out_features: classes (logits) or regression targets per sequence.
        hidden: H, hidden state size per direction and layer.
        num_layers: L, stacked recurrent layers (each reads the outputs of the one below).
        bidirectional: also run every layer backwards in time and concatenate both final states (D = 2).
        dropout: drop probability between stacked layers and on the final state before the head (training only).
        fused: run torch's fused RNN kernels (True) or our cells step by step in Python (False); same weights.
        standardize_input: standardize each input feature with mean / std fit on the training data (all steps).
        target_norm: regression; predict standardized targets and map them back to target units.

    Shapes: x (B, T, F), lengths (B,) or None -> (B, out_features).
    """

    def __init__(
        self,
        *,
        cell: str,
        in_features: int,
        out_features: int,
        hidden: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        fused: bool = True,
        standardize_input: bool = True,
        target_norm: bool = False,
    ) -> None:
        super().__init__()
        self.input_norm = SequenceStandardize(in_features) if standardize_input else nn.Identity()
        self.encoder = RecurrentLayer(
            cell=cell,
            input_size=in_features,
            hidden_size=hidden,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            fused=fused,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.directions * hidden, out_features)
        self.target_norm = Standardize(out_features, role="target") if target_norm else None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        _, state = self.encoder(self.input_norm(x), lengths)  # state[0]: (L*D, B, H)
        last = state[0][-self.encoder.directions :]  # (D, B, H): the top layer's final states
        feat = last.transpose(0, 1).reshape(x.shape[0], -1)  # (B, D*H)
        out = self.head(self.drop(feat))  # (B, out_features)
        return self.target_norm.inverse(out) if self.target_norm is not None else out


class CharRNN(nn.Module):
    """Character-level language model (Graves 2013, "Generating sequences with recurrent neural
    networks"; Karpathy's char-rnn): embedding -> stacked recurrent layer -> next-character logits.

        e_t = E[x_t];  h_t = RNN(e_t, h_{t-1});  p(x_{t+1} | x_<=t) = softmax(W h_t + b)

    Unlike a Transformer there is no context window: the state carries the whole past, and sampling
    costs one step per new character.

    Args:
        vocab_size: V, distinct characters; filled from the data when unset.
        cell: recurrent cell: "rnn" (Elman, tanh) | "lstm" | "gru".
        n_embd: width of the learned character embedding fed to the first layer.
        hidden: H, hidden state size of every layer.
        num_layers: L, stacked recurrent layers.
        dropout: drop probability between stacked layers and on the top layer's outputs (training only).
        fused: run torch's fused RNN kernels (True) or our cells step by step in Python (False); same weights.

    Shapes: idx (B, T) int64 -> logits (B, T, V); ``step`` also takes and returns the recurrent state.
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        cell: str = "lstm",
        n_embd: int = 64,
        hidden: int = 128,
        num_layers: int = 2,
        dropout: float = 0.0,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.rnn = RecurrentLayer(
            cell=cell, input_size=n_embd, hidden_size=hidden, num_layers=num_layers, dropout=dropout, fused=fused
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def step(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        h, state = self.rnn(self.embed(idx), state=state)  # (B, T, H), state (L, B, H) each
        return self.head(self.drop(h)), state  # (B, T, V)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.step(idx)[0]

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append ``max_new_tokens`` sampled characters to idx (B, T) -> (B, T + max_new_tokens)."""
        new = list(
            self.iter_generate(
                idx,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                generator=generator,
            )
        )
        return torch.cat([idx, *new], dim=1)

    @torch.no_grad()
    def iter_generate(
        self,
        idx: torch.Tensor,
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ):
        """Yields each new token (B, 1): the prompt is read once, then one recurrent step per token."""
        from dlzoo.families.transformer.sampling import check_sampling, sample_next

        check_sampling(temperature=temperature, top_k=top_k, top_p=top_p)
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(f"idx must be (B, T) token ids with T >= 1, got shape {tuple(idx.shape)}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        logits, state = self.step(idx)  # (B, T, V)
        for i in range(max_new_tokens):
            next_id = sample_next(
                logits[:, -1], temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
            )  # (B, 1)
            yield next_id
            if i + 1 < max_new_tokens:
                logits, state = self.step(next_id, state)  # (B, 1, V)
