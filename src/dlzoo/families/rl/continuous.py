"""The networks of SAC, TD3 and DDPG: actors for a continuous action box and an ensemble of Q-critics.

Every actor works in the normalised box [-1, 1]^A (tanh output); the environment's box [low, high] is
reached by the affine map (``to_env``)

    a_env = low + (a + 1) / 2 · (high − low)

as in Stable-Baselines3's ``scale_action`` / ``unscale_action``. The critics see normalised actions, so
the replay buffer's environment actions are mapped back (``to_unit``) before they enter a critic.

The critics are one ``EnsembleLinear`` stack: n critics Q_i(s, a) = MLP_i([s; a]) evaluated in one
batched matmul per layer (weights (n, in, out)): one op per layer for both critics (on a 2-core
Xeon in float32 the batched matmul measured slower than two separate ones: the rl README's Results).
Initialisation is ``nn.Linear``'s (U(±1/√fan_in)), SB3's for SAC/TD3.

An agent module holds the actor and the critics (what ``model.safetensors`` stores); its forward is
the deterministic action and the critics' values at it, so export and the contract tests see every
parameter. The target networks are the objective's (``sac.py``, ``td3.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlzoo.families.rl.model import clip_to_box, register_action_box

# SB3 (and the SAC reference code) clamp log σ(s) to this range
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


class EnsembleLinear(nn.Module):
    """n independent linear layers applied in one batched matmul: x (n, B, in) -> (n, B, out)."""

    def __init__(self, n: int, fan_in: int, fan_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default init (kaiming_uniform with a=√5 and its bias)
        self.weight = nn.Parameter(torch.empty(n, fan_in, fan_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, 1, fan_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)  # x @ W + b per member, fused (bf16 under autocast)

    def member(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """Member i alone: x (B, in) -> (B, out)."""
        return torch.addmm(self.bias[i], x, self.weight[i])


class Critics(nn.Module):
    """n Q-functions Q_i(s, a), ReLU MLPs of [s; a]. Shapes: obs (B, obs_dim), action (B, A) -> (n, B)."""

    def __init__(self, *, obs_dim: int, action_dim: int, hidden: tuple[int, ...], n: int) -> None:
        super().__init__()
        sizes = (obs_dim + action_dim, *hidden, 1)
        self.n = n
        self.layers = nn.ModuleList(EnsembleLinear(n, i, o) for i, o in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs.flatten(1), action], dim=-1).expand(self.n, -1, -1)  # (n, B, obs_dim + A)
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x).squeeze(-1)  # (n, B)

    def first(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q_1(s, a) alone, (B,): TD3's actor loss needs no other critic (half the work of ``forward``)."""
        x = torch.cat([obs.flatten(1), action], dim=-1)
        for layer in self.layers[:-1]:
            x = F.relu(layer.member(x, 0))
        return self.layers[-1].member(x, 0).squeeze(-1)


def relu_mlp(sizes: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])  # no activation after the last layer


def squashed_gaussian_log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log π(a|s) of a = tanh(u), u ~ N(mean, diag σ²), summed over the action dimensions: (B, A) -> (B,).

    Change of variables (Haarnoja et al. 2018, appendix C, Eq. 21):

        log π(a|s) = Σ_j [ log N(u_j; μ_j, σ_j²) − log(1 − tanh²(u_j)) ]

    with the exact, stable log(1 − tanh² u) = 2 (log 2 − u − softplus(−2u)) (no ε as in SB3's 1e-6).
    """
    normal = -0.5 * ((u - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)  # (B, A)
    log_det = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))  # (B, A): log |d tanh(u) / du|
    return (normal - log_det).sum(-1)  # (B,)


class SquashedGaussianActor(nn.Module):
    """π(a|s) = tanh(N(μ(s), diag σ(s)²)): a ReLU trunk, then linear heads for μ and log σ (SB3's SAC actor).

    Shapes: obs (B, obs_dim) -> mean (B, A), log_std (B, A) (clamped to [LOG_STD_MIN, LOG_STD_MAX])."""

    def __init__(self, *, obs_dim: int, action_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.trunk = nn.Sequential(relu_mlp((obs_dim, *hidden)), nn.ReLU()) if hidden else nn.Identity()
        width = hidden[-1] if hidden else obs_dim
        self.mu = nn.Linear(width, action_dim)
        self.log_std = nn.Linear(width, action_dim)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(obs.flatten(1))
        return self.mu(h), self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised a = tanh(μ + σ ε), ε ~ N(0, I), and log π(a|s): (B, A), (B,)."""
        mean, log_std = self(obs)
        mean, log_std = mean.float(), log_std.float()
        eps = torch.randn(mean.shape, generator=generator, device=mean.device)
        u = mean + log_std.exp() * eps
        return torch.tanh(u), squashed_gaussian_log_prob(u, mean, log_std)


class DeterministicActor(nn.Module):
    """μ(s) = tanh(MLP(s)) in [-1, 1]^A (TD3/DDPG; Fujimoto et al. 2018). Shapes: (B, obs_dim) -> (B, A)."""

    def __init__(self, *, obs_dim: int, action_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = relu_mlp((obs_dim, *hidden, action_dim))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs.flatten(1)))


class ContinuousAgent(nn.Module):
    """An actor and n critics on a Box action space (the saved model of sac, td3, ddpg).

    forward(obs (B, obs_dim)) -> (action (B, A) in the environment's box, Q_i(s, μ(s)) (B, n)): the
    deterministic action (tanh μ(s) for SAC, μ(s) for TD3) and the critics' values of it; SAC's
    forward adds log σ(s) (B, A), the rest of its policy.
    """

    def __init__(
        self,
        *,
        obs_dim: int,
        action_dim: int,
        action_low: tuple[float, ...],
        action_high: tuple[float, ...],
        hidden: tuple[int, ...],
        critic_hidden: tuple[int, ...],
        n_critics: int,
        stochastic: bool,
    ) -> None:
        super().__init__()
        self.stochastic = stochastic
        actor = SquashedGaussianActor if stochastic else DeterministicActor
        self.actor = actor(obs_dim=obs_dim, action_dim=action_dim, hidden=tuple(hidden))
        self.critics = Critics(obs_dim=obs_dim, action_dim=action_dim, hidden=tuple(critic_hidden), n=n_critics)
        register_action_box(self, action_low, action_high, action_dim, finite=True)

    def unit_action(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action in [-1, 1]^A: tanh(μ(s)) (SAC's mean action) or μ(s) (TD3)."""
        return torch.tanh(self.actor(obs)[0]) if self.stochastic else self.actor(obs)

    def to_env(self, unit: torch.Tensor) -> torch.Tensor:
        """[-1, 1]^A -> [low, high]: low + (a + 1) / 2 · (high − low)."""
        return self.action_low + 0.5 * (unit + 1.0) * (self.action_high - self.action_low)

    def to_unit(self, action: torch.Tensor) -> torch.Tensor:
        """[low, high] -> [-1, 1]^A, the inverse of ``to_env``."""
        return 2.0 * (action - self.action_low) / (self.action_high - self.action_low) - 1.0

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not self.stochastic:
            a = self.actor(obs)  # (B, A)
            return self.to_env(a), self.critics(obs, a).transpose(0, 1)  # (B, A), (B, n)
        mean, log_std = self.actor(obs)
        a = torch.tanh(mean)
        return self.to_env(a), self.critics(obs, a).transpose(0, 1), log_std  # (B, A), (B, n), (B, A)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The greedy action in the environment's box, (B, A) (clipped against rounding at the edges)."""
        return clip_to_box(self, self.to_env(self.unit_action(obs)))
