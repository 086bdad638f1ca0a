"""The networks of the rl family: DQN's Q-network, and the actor-critics of REINFORCE, A2C and PPO (below).

The Q-network of DQN (Mnih et al. 2015) is an MLP from an observation to one value per action:

    h_0 = flatten(s)                          # (B, obs_dim)
    h_l = relu(W_l h_{l-1} + b_l)             # l = 1..L hidden layers
    Q(s, .) = W_out h_L + b_out               # (B, n_actions): one action value per discrete action

With ``dueling`` (Wang et al. 2016) the head splits into a state value and advantages, recombined with
the mean advantage subtracted (Eq. 9), which makes V and A identifiable:

    Q(s, a) = V(s) + A(s, a) − (1/|A|) Σ_a' A(s, a')        # ``QNetwork.forward``

The network knows nothing about replay, targets or exploration: those live in ``objective.py``.
Mnih et al. used a convolutional torso on Atari frames; for low-dimensional states (CartPole) the
torso is an MLP, as in Stable-Baselines3's ``MlpPolicy`` (net_arch=[64, 64] by default).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class QNetwork(nn.Module):
    """Shapes: obs (B, obs_dim) or (B, *obs_shape) -> Q-values (B, n_actions).

    Args:
        obs_dim: observation size after flattening (4 for CartPole); filled from the environment when unset.
        n_actions: number of discrete actions (2 for CartPole); filled from the environment when unset.
        hidden: widths of the hidden ReLU layers, e.g. (256, 256).
        dueling: a value head V(s) and an advantage head A(s, ·) instead of one Q head (Wang et al. 2016).
    """

    def __init__(
        self, *, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (64, 64), dueling: bool = False
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.body = nn.Sequential(*layers)  # an empty Sequential is the identity: a linear Q-function
        self.head = nn.Linear(width, n_actions)  # Q(s, ·), or A(s, ·) when dueling
        self.value = nn.Linear(width, 1) if dueling else None  # V(s)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h = self.body(obs.flatten(1))  # (B, hidden[-1])
        if self.value is None:
            return self.head(h)  # (B, n_actions)
        advantage = self.head(h)  # (B, n_actions)
        return self.value(h) + advantage - advantage.mean(-1, keepdim=True)  # V + A − mean_a A


# -- actor-critics of the policy-gradient methods (REINFORCE, A2C, PPO) ------------------------------


def mlp(sizes: tuple[int, ...], *, activation: type[nn.Module], out_gain: float) -> nn.Sequential:
    """Linear layers of ``sizes`` with ``activation`` between them, orthogonally initialised as in
    CleanRL and Stable-Baselines3: hidden weights with gain √2, the output layer with ``out_gain``, biases 0."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = i == len(sizes) - 2
        linear = nn.Linear(fan_in, fan_out)
        nn.init.orthogonal_(linear.weight, gain=out_gain if last else 2**0.5)
        nn.init.zeros_(linear.bias)
        layers += [linear] if last else [linear, activation()]
    return nn.Sequential(*layers)


ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def activation_of(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class CategoricalActorCritic(nn.Module):
    """π(a|s) = softmax(actor(s))_a over discrete actions and V(s) = critic(s), two separate MLPs
    (SB3's MlpPolicy for PPO/A2C: net_arch pi=[64, 64], vf=[64, 64], tanh).

    Shapes: obs (B, obs_dim) -> (logits (B, n_actions), value (B,)).
    The actor's output layer starts near zero (gain 0.01), so the first policy is close to uniform.
    """

    def __init__(self, *, obs_dim: int, n_actions: int, hidden: tuple[int, ...], activation: str) -> None:
        super().__init__()
        act = activation_of(activation)
        self.actor = mlp((obs_dim, *hidden, n_actions), activation=act, out_gain=0.01)
        self.critic = mlp((obs_dim, *hidden, 1), activation=act, out_gain=1.0)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = obs.flatten(1)  # (B, obs_dim)
        return self.actor(x), self.critic(x).squeeze(-1)  # (B, n_actions), (B,)

    def distribution(self, obs: torch.Tensor) -> tuple[torch.distributions.Distribution, torch.Tensor]:
        logits, value = self(obs)  # under bf16 autocast the network runs in bf16, the distribution in float32
        logits, value = logits.float(), value.float()
        # validate_args=False: the arguments' checks cost more than the network at these sizes (SB3 turns them off too)
        return torch.distributions.Categorical(logits=logits, validate_args=False), value

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs.flatten(1)).squeeze(-1).float()  # (B,)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The mode of π(·|s): argmax_a logits, (B,) int64."""
        return self.actor(obs.flatten(1)).argmax(-1)


class GaussianActorCritic(nn.Module):
    """π(a|s) = N(μ(s), diag σ²) with a state-independent log σ parameter, and V(s) = critic(s)
    (SB3's DiagGaussianDistribution, log_std_init = 0; CleanRL's ppo_continuous_action).

    Shapes: obs (B, obs_dim) -> (mean (B, action_dim), log_std (B, action_dim), value (B,)).
    The Gaussian is unbounded; the environment clips the sampled action to its box (gymnasium's
    ClipAction) and the log-probability is of the unclipped sample. ``deterministic`` clips μ(s) to
    [action_low, action_high], the buffers recorded from the environment's action space.
    """

    def __init__(
        self,
        *,
        obs_dim: int,
        action_dim: int,
        action_low: tuple[float, ...],
        action_high: tuple[float, ...],
        hidden: tuple[int, ...],
        activation: str,
        log_std_init: float,
    ) -> None:
        super().__init__()
        act = activation_of(activation)
        self.actor = mlp((obs_dim, *hidden, action_dim), activation=act, out_gain=0.01)
        self.critic = mlp((obs_dim, *hidden, 1), activation=act, out_gain=1.0)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))  # (action_dim,)
        register_action_box(self, action_low, action_high, action_dim)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = obs.flatten(1)  # (B, obs_dim)
        mean = self.actor(x)  # (B, action_dim)
        return mean, self.log_std.expand_as(mean), self.critic(x).squeeze(-1)  # (B, A), (B, A), (B,)

    def distribution(self, obs: torch.Tensor) -> tuple[torch.distributions.Distribution, torch.Tensor]:
        mean, log_std, value = self(obs)  # under bf16 autocast the network runs in bf16, the distribution in float32
        mean, log_std, value = mean.float(), log_std.float(), value.float()
        # Independent: log π(a|s) = Σ_j log N(a_j; μ_j, σ_j²), one number per action vector
        normal = torch.distributions.Normal(mean, log_std.exp(), validate_args=False)
        return torch.distributions.Independent(normal, 1, validate_args=False), value

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs.flatten(1)).squeeze(-1).float()  # (B,)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """μ(s) clipped to the action box, (B, action_dim)."""
        return clip_to_box(self, self.actor(obs.flatten(1)))


ActorCritic = CategoricalActorCritic | GaussianActorCritic


def register_action_box(
    module: nn.Module, low: tuple[float, ...], high: tuple[float, ...], action_dim: int, *, finite: bool = False
) -> None:
    """Check a Box action space's bounds and keep them as the buffers ``action_low`` / ``action_high``.

    ``finite``: the bounds must be finite (an actor that squashes into the box needs them).
    """
    if not len(low) == len(high) == action_dim:
        raise ValueError(f"action_low ({len(low)}) and action_high ({len(high)}) need action_dim={action_dim} bounds")
    if finite and not all(math.isfinite(v) for v in (*low, *high)):
        raise ValueError(
            "SAC, TD3 and DDPG squash actions into the environment's box: it needs finite bounds, "
            f"got low={list(low)}, high={list(high)}"
        )
    module.register_buffer("action_low", torch.tensor(low, dtype=torch.float32))
    module.register_buffer("action_high", torch.tensor(high, dtype=torch.float32))


def clip_to_box(module: nn.Module, action: torch.Tensor) -> torch.Tensor:
    """``action`` clipped elementwise to [action_low, action_high], (B, action_dim)."""
    return torch.maximum(torch.minimum(action, module.action_high), module.action_low)


def sample_action(dist: torch.distributions.Distribution, generator: torch.Generator) -> torch.Tensor:
    """a ~ dist drawn from ``generator`` (torch.distributions' ``sample`` takes none), so runs are reproducible."""
    if isinstance(dist, torch.distributions.Categorical):
        return torch.multinomial(dist.probs, 1, generator=generator).squeeze(-1)  # (B,)
    base = dist.base_dist  # Independent(Normal)
    noise = torch.randn(base.loc.shape, generator=generator, device=base.loc.device)
    return base.loc + base.scale * noise  # (B, action_dim): μ + σ ε, ε ~ N(0, I)
