"""Hopfield networks: the classical binary associative memory and the modern continuous one.

Classical (Hopfield 1982), N units with states s in {-1, +1}^N, symmetric couplings W (zero diagonal)
and thresholds theta:

    E(s) = -1/2 s^T W s + theta^T s                                        (``ClassicalHopfield.energy``)
    async update of unit i:  s_i <- sign(h_i),  h_i = W_i s - theta_i      (a tie h_i = 0 keeps s_i)

Flipping s_i changes the energy by dE = -(s_i' - s_i) h_i <= 0, so asynchronous updates never
increase E and reach a fixed point (a local minimum). Synchronous updates (every unit at once) may
end in a 2-cycle instead. Storage of P patterns xi^mu (rows of S, (P, N)):

    Hebbian:        W = S^T S / N, diagonal zeroed          capacity P ~ 0.138 N (Amit et al. 1985)
    pseudo-inverse: W = S^T (S S^T)^+ S, diagonal zeroed    (Personnaz et al. 1985) every linearly
                    independent pattern is a fixed point, P < N, correlated patterns included

Modern (dense associative memory, Krotov & Hopfield 2016; Ramsauer et al. 2021), memories X (P, d)
and a continuous state xi (d,):

    E(xi)   = -lse(beta, X xi) + 1/2 xi^T xi + const,  lse(beta, z) = 1/beta log sum_mu exp(beta z_mu)
    xi_new  = X^T softmax(beta X xi)                                       (eq. 3 of Ramsauer et al.)

which is attention with the state as query and the memories as keys and values
(``hopfield_update``; ``HopfieldAttention`` is the layer with learned projections). Exponential
storage capacity; one update retrieves a well-separated memory.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def spins(x: torch.Tensor) -> torch.Tensor:
    """Data in [0, 1] -> states s = 2x - 1 in [-1, 1] (a grey 0.5 is the "unknown" state 0): (B, ...) -> (B, N)."""
    return 2 * x.flatten(1) - 1


def sign_keep(h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """sign(h), keeping s where h == 0."""
    return torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, s))


class ClassicalHopfield(nn.Module):
    """Binary Hopfield network; forward is the energy E(s) of x in {0, 1} (s = 2x - 1), (B,).

    Before anything is stored the couplings are small random symmetric ones (zero diagonal);
    ``store`` replaces them. W and theta are parameters so that the energy is differentiable
    (and exported), but they are set in closed form, not by gradient descent.
    """

    def __init__(self, *, input_shape: tuple[int, ...], seed: int = 0) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.n = math.prod(self.input_shape)
        g = torch.Generator().manual_seed(seed)
        a = torch.randn(self.n, self.n, generator=g) / math.sqrt(self.n)
        self.W = nn.Parameter((a + a.T).fill_diagonal_(0) / 2)  # (N, N) symmetric, zero diagonal
        self.theta = nn.Parameter(torch.zeros(self.n))  # (N,) thresholds

    def energy_of_spins(self, s: torch.Tensor) -> torch.Tensor:
        """E(s) = -1/2 s^T W s + theta^T s: (B, N) -> (B,)."""
        return -0.5 * ((s @ self.W) * s).sum(-1) + s @ self.theta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy_of_spins(spins(x))

    @torch.no_grad()
    def store(self, patterns: torch.Tensor, *, rule: str = "hebbian") -> None:
        """Set W from patterns (P, ...) in {0, 1}: Hebbian or pseudo-inverse; theta = 0."""
        S = spins(patterns).double()  # (P, N) in {-1, +1}
        if rule == "hebbian":
            W = S.T @ S / self.n  # (N, N) W = 1/N sum_mu xi^mu xi^mu^T
        elif rule == "pseudoinverse":
            W = S.T @ torch.linalg.pinv(S @ S.T) @ S  # (N, N) the projection onto span{xi^mu}
        else:
            raise ValueError(f"unknown storage rule {rule!r}; valid: hebbian, pseudoinverse")
        self.W.copy_(W.fill_diagonal_(0).float())
        self.theta.zero_()

    @torch.no_grad()
    def run(
        self, s: torch.Tensor, *, mode: str = "async", max_steps: int = 50, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Update states s (B, N) in {-1, +1} until no unit changes (or max_steps sweeps).

        async: each sweep visits the units in a random order (one order per sweep, from ``generator``),
        updating one unit at a time; sync: every unit at once. Returns the final states (B, N) and the
        sweeps each example took until nothing changed (B,) (max_steps if it never settled).
        """
        if mode not in ("async", "sync"):
            raise ValueError(f"unknown update mode {mode!r}; valid: async, sync")
        s = s.clone()
        steps = torch.full((len(s),), max_steps, dtype=torch.long)
        settled = torch.zeros(len(s), dtype=torch.bool)
        for sweep in range(1, max_steps + 1):
            before = s.clone()
            if mode == "sync":
                s = sign_keep(s @ self.W.T - self.theta, s)  # (B, N) all units at once
            else:
                for i in torch.randperm(self.n, generator=generator).tolist():
                    h = s @ self.W[i] - self.theta[i]  # (B,) local field of unit i
                    s[:, i] = sign_keep(h, s[:, i])
            newly = ~settled & (s == before).all(1)  # (B,) nothing changed this sweep
            steps[newly] = sweep
            settled |= newly
            if bool(settled.all()):
                break
        return s, steps


def hopfield_update(xi: torch.Tensor, memories: torch.Tensor, beta: float) -> torch.Tensor:
    """xi_new = X^T softmax(beta X xi) for a batch of states: (B, d), (P, d) -> (B, d)."""
    return torch.softmax(beta * xi @ memories.T, dim=-1) @ memories  # (B, P) @ (P, d)


class ModernHopfield(nn.Module):
    """Continuous Hopfield memory; forward is one update of x in [0, 1] (s = 2x - 1, a grey 0.5 is
    unknown), returned in data units (s_new + 1) / 2: (B, *input_shape) -> (B, *input_shape).

    The memories X (P, d) hold patterns in spin units; before storing they are random +-1 patterns.
    """

    def __init__(self, *, input_shape: tuple[int, ...], n_memories: int, beta: float, seed: int = 0) -> None:
        super().__init__()
        if n_memories < 1 or beta <= 0:
            raise ValueError(f"n_memories must be >= 1 and beta > 0, got {n_memories} and {beta}")
        self.input_shape, self.beta, self.n_memories = tuple(input_shape), float(beta), n_memories
        d = math.prod(self.input_shape)
        g = torch.Generator().manual_seed(seed)
        self.memories = nn.Parameter(torch.randint(0, 2, (n_memories, d), generator=g).float() * 2 - 1)  # (P, d)

    def update(self, s: torch.Tensor) -> torch.Tensor:
        """One update in spin units: (B, d) -> (B, d)."""
        return hopfield_update(s, self.memories, self.beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.update(spins(x)) + 1) / 2).reshape(-1, *self.input_shape)

    def energy_of_spins(self, s: torch.Tensor) -> torch.Tensor:
        """E(xi) = -lse(beta, X xi) + 1/2 xi^T xi (without the constant): (B, d) -> (B,)."""
        return -torch.logsumexp(self.beta * s @ self.memories.T, -1) / self.beta + 0.5 * s.pow(2).sum(-1)

    @torch.no_grad()
    def store(self, patterns: torch.Tensor) -> None:
        """X = the first n_memories patterns (P, ...) in [0, 1], in spin units."""
        if len(patterns) < self.n_memories:
            raise ValueError(f"{self.n_memories} memories to store, but only {len(patterns)} patterns were given")
        self.memories.copy_(spins(patterns[: self.n_memories]))

    @torch.no_grad()
    def run(self, s: torch.Tensor, *, max_steps: int = 1, tol: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
        """Update until the state moves less than ``tol`` (max norm) or max_steps: final (B, d), steps (B,)."""
        steps = torch.full((len(s),), max_steps, dtype=torch.long)
        settled = torch.zeros(len(s), dtype=torch.bool)
        for step in range(1, max_steps + 1):
            new = self.update(s)
            newly = ~settled & ((new - s).abs().amax(1) < tol)
            steps[newly] = step
            settled |= newly
            s = new
            if bool(settled.all()):
                break
        return s, steps


class HopfieldAttention(nn.Module):
    """The modern Hopfield update as a layer (Ramsauer et al. 2021, eq. 10, "Hopfield"):

        Z = softmax(beta Q K^T) V,  Q = R W_Q,  K = Y W_K,  V = Y W_K W_V

    with state patterns R (B, S, d_in) as queries and stored patterns Y (B, P, d_in); beta defaults to
    1 / sqrt(d_k). With identity projections and Y = X it is ``hopfield_update``.

    Shapes: R (B, S, d_in), Y (B, P, d_in) -> Z (B, S, d_out)
    """

    def __init__(self, *, d_in: int, d_k: int, d_out: int, beta: float | None = None) -> None:
        super().__init__()
        self.beta = beta if beta is not None else 1 / math.sqrt(d_k)
        self.W_Q = nn.Linear(d_in, d_k, bias=False)
        self.W_K = nn.Linear(d_in, d_k, bias=False)
        self.W_V = nn.Linear(d_k, d_out, bias=False)

    def forward(self, R: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        Q, K = self.W_Q(R), self.W_K(Y)  # (B, S, d_k), (B, P, d_k)
        V = self.W_V(K)  # (B, P, d_out): values are projected keys (eq. 10)
        return torch.softmax(self.beta * Q @ K.transpose(-1, -2), dim=-1) @ V  # (B, S, d_out)
