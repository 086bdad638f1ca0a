"""Recurrent cells written out: Elman RNN, LSTM with forget gate, GRU; one time step each.

Every cell stores its weights exactly as ``torch.nn.RNNCell/LSTMCell/GRUCell`` do, gates stacked
along the rows, so one state dict loads into either (the parity tests rely on it):

    weight_ih (G*H, I)   weight_hh (G*H, H)   bias_ih (G*H,)   bias_hh (G*H,)

with G = 1 (RNN), 4 (LSTM, gate order i, f, g, o) or 3 (GRU, gate order r, z, n). The step
functions take the weights as arguments, so ``RecurrentLayer`` (model.py) runs the same step with the
parameters of a fused ``torch.nn.LSTM``. ``gx = W_ih x_t + b_ih`` may be passed precomputed: the
input projection of a whole sequence is one matrix product, only the recurrence is sequential.

Shapes: x (B, I); h, c (B, H); gx (B, G*H).
"""

from __future__ import annotations

import math

import torch
from torch import nn

State = tuple[torch.Tensor, ...]  # (h,) for RNN / GRU, (h, c) for LSTM


def rnn_step(
    gx: torch.Tensor, state: State, weight_hh: torch.Tensor, bias_hh: torch.Tensor, *, nonlinearity: str = "tanh"
) -> State:
    """Elman (1990) network: one step from a precomputed input projection gx = W_ih x_t + b_ih."""
    (h,) = state
    # h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    pre = gx + h @ weight_hh.T + bias_hh  # (B, H)
    return (torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre),)


def lstm_step(gx: torch.Tensor, state: State, weight_hh: torch.Tensor, bias_hh: torch.Tensor) -> State:
    """LSTM (Hochreiter & Schmidhuber 1997) with the forget gate of Gers, Schmidhuber & Cummins (2000)."""
    h, c = state
    gates = gx + h @ weight_hh.T + bias_hh  # (B, 4H): rows i, f, g, o
    i, f, g, o = gates.chunk(4, dim=-1)  # (B, H) each
    # i_t = sigma(W_ii x_t + W_hi h_{t-1} + b_i)         input gate (H&S 1997, "in_j")
    i = torch.sigmoid(i)
    # f_t = sigma(W_if x_t + W_hf h_{t-1} + b_f)         forget gate (Gers et al. 2000, eq. 2)
    f = torch.sigmoid(f)
    # g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)          cell input ("g" squashing in H&S 1997)
    g = torch.tanh(g)
    # o_t = sigma(W_io x_t + W_ho h_{t-1} + b_o)         output gate (H&S 1997, "out_j")
    o = torch.sigmoid(o)
    # c_t = f_t * c_{t-1} + i_t * g_t                    the constant error carousel, gated (Gers 2000, eq. 3)
    c = f * c + i * g  # (B, H)
    # h_t = o_t * tanh(c_t)
    h = o * torch.tanh(c)  # (B, H)
    return h, c


def gru_step(gx: torch.Tensor, state: State, weight_hh: torch.Tensor, bias_hh: torch.Tensor) -> State:
    """Gated recurrent unit (Cho et al. 2014, eqs. 5-8), with torch's placement of the reset gate."""
    (h,) = state
    gh = h @ weight_hh.T + bias_hh  # (B, 3H): rows r, z, n
    x_r, x_z, x_n = gx.chunk(3, dim=-1)  # (B, H) each
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    # r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)      reset gate (Cho 2014, eq. 5)
    r = torch.sigmoid(x_r + h_r)
    # z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)      update gate (eq. 6)
    z = torch.sigmoid(x_z + h_z)
    # n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))  candidate (eq. 8; r after the product)
    n = torch.tanh(x_n + r * h_n)
    # h_t = (1 - z_t) * n_t + z_t * h_{t-1}                    (eq. 7)
    return ((1 - z) * n + z * h,)


#: mode -> (gates G, number of state tensors)
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class _Cell(nn.Module):
    """Weights of one cell in torch's layout, initialized like torch: U(-1/sqrt(H), 1/sqrt(H))."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"input_size and hidden_size must be >= 1, got {input_size} and {hidden_size}")
        self.input_size, self.hidden_size = input_size, hidden_size
        g = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(g))
        self.bias_hh = nn.Parameter(torch.empty(g))
        bound = 1 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.hidden_size)  # (B, H)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected input (batch, {self.input_size}), got {tuple(x.shape)}")
        return x @ self.weight_ih.T + self.bias_ih  # (B, G*H)


class RNNCell(_Cell):
    """Elman cell, same parameters as ``torch.nn.RNNCell``. forward(x (B, I), h (B, H) | None) -> h (B, H)."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}; valid: relu, tanh")
        super().__init__(input_size, hidden_size)
        self.nonlinearity = nonlinearity

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self.initial_state(x) if h is None else h
        return rnn_step(self.project(x), (h,), self.weight_hh, self.bias_hh, nonlinearity=self.nonlinearity)[0]


class LSTMCell(_Cell):
    """LSTM cell, same parameters as ``torch.nn.LSTMCell``. forward(x, (h, c) | None) -> (h, c), each (B, H)."""

    gates = 4

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        state = (self.initial_state(x), self.initial_state(x)) if state is None else state
        h, c = lstm_step(self.project(x), state, self.weight_hh, self.bias_hh)
        return h, c


class GRUCell(_Cell):
    """GRU cell, same parameters as ``torch.nn.GRUCell``. forward(x (B, I), h (B, H) | None) -> h (B, H)."""

    gates = 3

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self.initial_state(x) if h is None else h
        return gru_step(self.project(x), (h,), self.weight_hh, self.bias_hh)[0]
