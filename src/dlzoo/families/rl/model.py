"""The Q-network of DQN (Mnih et al. 2015): an MLP from an observation to one value per action.

    h_0 = flatten(s)                          # (B, obs_dim)
    h_l = relu(W_l h_{l-1} + b_l)             # l = 1..L hidden layers
    Q(s, .) = W_out h_L + b_out               # (B, n_actions): one action value per discrete action

The network knows nothing about replay, targets or exploration: those live in ``objective.py``.
Mnih et al. used a convolutional torso on Atari frames; for low-dimensional states (CartPole) the
torso is an MLP, as in Stable-Baselines3's ``MlpPolicy`` (net_arch=[64, 64] by default).
"""

from __future__ import annotations

import torch
from torch import nn


class QNetwork(nn.Module):
    """Shapes: obs (B, obs_dim) or (B, *obs_shape) -> Q-values (B, n_actions).

    Args:
        obs_dim: observation size after flattening (4 for CartPole); filled from the environment when unset.
        n_actions: number of discrete actions (2 for CartPole); filled from the environment when unset.
        hidden: widths of the hidden ReLU layers, e.g. (256, 256).
    """

    def __init__(self, *, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.body = nn.Sequential(*layers)  # an empty Sequential is the identity: a linear Q-function
        self.head = nn.Linear(width, n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h = self.body(obs.flatten(1))  # (B, hidden[-1])
        return self.head(h)  # (B, n_actions)
