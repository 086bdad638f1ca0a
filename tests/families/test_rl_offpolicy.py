"""The rl family's off-policy half: SAC, TD3, DDPG and DQN's double/dueling settings.

The tanh-Gaussian log-probability against a numeric change of variables, Polyak averaging, TD3's smoothed
target and DQN's double and dueling targets by hand; learning a 1-D continuous toy; determinism; resume;
serving and bad input. Everything runs on gymnasium's bundled environments and one registered here.
"""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from dlzoo import inference
from dlzoo.config import ConfigError, resolve_config
from dlzoo.data.replay import ReplayBatch
from dlzoo.families.rl.continuous import Critics, ContinuousAgent, SquashedGaussianActor, squashed_gaussian_log_prob
from dlzoo.families.rl.model import QNetwork
from dlzoo.families.rl.objective import td_target
from dlzoo.families.rl.offpolicy import polyak
from dlzoo.families.rl.td3 import smoothed_target
from dlzoo.runs import RunDir, load_run
from dlzoo.tasks.reinforcement import ReinforcementTask
from dlzoo.training.loop import train_run

# -- analytic ---------------------------------------------------------------------------------------


def test_tanh_gaussian_log_prob_is_the_numeric_change_of_variables() -> None:
    """p_A(a) = p_U(u) / |da/du| at a = tanh(u), with the derivative taken by central differences."""
    torch.manual_seed(0)
    u = torch.linspace(-4.0, 4.0, 41, dtype=torch.float64)[:, None]  # (41, 1), far into the saturation
    mean, log_std = torch.tensor([[0.3]], dtype=torch.float64), torch.tensor([[-0.2]], dtype=torch.float64)
    h = 1e-6
    jacobian = (torch.tanh(u + h) - torch.tanh(u - h)) / (2 * h)  # da/du, numerically
    log_p_u = torch.distributions.Normal(mean, log_std.exp()).log_prob(u)
    expected = (log_p_u - jacobian.log()).squeeze(-1)
    torch.testing.assert_close(squashed_gaussian_log_prob(u, mean, log_std), expected, rtol=1e-6, atol=1e-6)
    # several action dimensions: the log-densities add
    u2 = torch.randn(5, 3, dtype=torch.float64)
    m2, s2 = torch.randn(5, 3, dtype=torch.float64), 0.3 * torch.randn(5, 3, dtype=torch.float64)
    per_dim = torch.stack(
        [squashed_gaussian_log_prob(u2[:, j : j + 1], m2[:, j : j + 1], s2[:, j : j + 1]) for j in range(3)]
    )
    torch.testing.assert_close(squashed_gaussian_log_prob(u2, m2, s2), per_dim.sum(0))


def test_tanh_gaussian_density_integrates_to_one() -> None:
    a = torch.linspace(-1 + 1e-9, 1 - 1e-9, 200_001, dtype=torch.float64)
    u = torch.atanh(a)[:, None]
    mean, log_std = torch.tensor([[0.8]], dtype=torch.float64), torch.tensor([[0.1]], dtype=torch.float64)
    density = squashed_gaussian_log_prob(u, mean, log_std).exp()
    assert float(torch.trapezoid(density, a)) == pytest.approx(1.0, abs=1e-3)


def test_actor_samples_inside_the_box_with_their_log_prob() -> None:
    actor = SquashedGaussianActor(obs_dim=3, action_dim=2, hidden=(8,))
    obs = torch.randn(6, 3)
    a, logp = actor.sample(obs, torch.Generator().manual_seed(0))
    assert a.shape == (6, 2) and logp.shape == (6,) and bool((a.abs() < 1).all())
    mean, log_std = actor(obs)
    base = torch.distributions.Normal(mean, log_std.exp())
    reference = torch.distributions.TransformedDistribution(base, [torch.distributions.TanhTransform()])
    torch.testing.assert_close(logp, reference.log_prob(a.clamp(-1 + 1e-6, 1 - 1e-6)).sum(-1), rtol=1e-3, atol=1e-3)
    again, _ = actor.sample(obs, torch.Generator().manual_seed(0))
    assert torch.equal(a, again)  # the generator decides the noise


def test_target_networks_follow_polyak_averaging() -> None:
    online, target = nn.Linear(3, 2), nn.Linear(3, 2)
    start = [p.detach().clone() for p in target.parameters()]
    tau, k = 0.1, 7
    for _ in range(k):
        polyak(target, online, tau)
    for p_target, p, p0 in zip(target.parameters(), online.parameters(), start, strict=True):
        # θ⁻_k = θ + (1 − τ)^k (θ⁻_0 − θ) for a fixed θ
        torch.testing.assert_close(p_target, p + (1 - tau) ** k * (p0 - p))
    polyak(target, online, 1.0)  # τ = 1 is a hard copy
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), online.parameters(), strict=True))


class Affine(nn.Module):
    """μ⁻(s') = w · s' (one action dim), for the target by hand."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return 0.5 * obs[:, :1]


class TwoCritics(nn.Module):
    """Q_1(s, a) = s_0 + 2a, Q_2(s, a) = s_0 − a: (n, B)."""

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.stack([obs[:, 0] + 2 * action[:, 0], obs[:, 0] - action[:, 0]])


def replay_batch() -> ReplayBatch:
    return ReplayBatch(
        obs=torch.zeros(3, 2),
        actions=torch.zeros(3, 1),
        rewards=torch.tensor([1.0, -1.0, 0.5]),
        next_obs=torch.tensor([[1.0, 0.0], [-1.0, 0.0], [3.0, 0.0]]),
        terminated=torch.tensor([0.0, 0.0, 1.0]),
    )


def test_td3_smoothed_target_by_hand() -> None:
    batch, gamma, sigma, clip = replay_batch(), 0.9, 0.3, 0.2
    y = smoothed_target(
        batch, target_actor=Affine(), target_critics=TwoCritics(), gamma=gamma, noise_std=sigma,
        noise_clip=clip, generator=torch.Generator().manual_seed(3),
    )  # fmt: skip
    eps = torch.randn((3, 1), generator=torch.Generator().manual_seed(3))  # the same draws
    a_next = (0.5 * batch.next_obs[:, :1] + (sigma * eps).clamp(-clip, clip)).clamp(-1, 1)[:, 0]
    s0 = batch.next_obs[:, 0]
    q_min = torch.minimum(s0 + 2 * a_next, s0 - a_next)  # clipped double-Q
    torch.testing.assert_close(y, batch.rewards + gamma * (1 - batch.terminated) * q_min)
    assert y[2] == batch.rewards[2]  # termination: no bootstrap
    # the noise is clipped to ±c: with a huge σ every draw lands on a bound
    big = smoothed_target(
        batch, target_actor=Affine(), target_critics=TwoCritics(), gamma=gamma, noise_std=1e6,
        noise_clip=clip, generator=torch.Generator().manual_seed(3),
    )  # fmt: skip
    a_big = (0.5 * s0 + clip * eps[:, 0].sign()).clamp(-1, 1)
    torch.testing.assert_close(
        big, batch.rewards + gamma * (1 - batch.terminated) * torch.minimum(s0 + 2 * a_big, s0 - a_big)
    )
    # DDPG's setting (σ̃ = 0): y = r + γ(1 − d) Q⁻(s', μ⁻(s'))
    plain = smoothed_target(
        batch, target_actor=Affine(), target_critics=TwoCritics(), gamma=gamma, noise_std=0.0,
        noise_clip=0.0, generator=None,
    )  # fmt: skip
    mu = 0.5 * s0
    torch.testing.assert_close(
        plain, batch.rewards + gamma * (1 - batch.terminated) * torch.minimum(s0 + 2 * mu, s0 - mu)
    )


def test_first_critic_alone_equals_the_ensembles_first_member() -> None:
    """TD3's actor loss reads Q_1 through ``Critics.first``: the same numbers and gradient as member 0."""
    torch.manual_seed(0)
    critics = Critics(obs_dim=3, action_dim=2, hidden=(16, 16), n=2)
    obs, action = torch.randn(7, 3), torch.randn(7, 2, requires_grad=True)
    (g_all,) = torch.autograd.grad(critics(obs, action)[0].sum(), action)
    q1 = critics.first(obs, action)
    (g_one,) = torch.autograd.grad(q1.sum(), action)
    assert q1.shape == (7,)
    torch.testing.assert_close(q1, critics(obs, action)[0])
    torch.testing.assert_close(g_one, g_all)


def test_double_dqn_target_uses_the_online_argmax_and_the_target_value() -> None:
    batch = ReplayBatch(
        torch.zeros(2, 1), torch.zeros(2, dtype=torch.int64), torch.tensor([1.0, 0.0]),
        torch.tensor([[0.0], [1.0]]), torch.zeros(2),
    )  # fmt: skip

    class Fixed(nn.Module):
        def __init__(self, rows: list[list[float]]) -> None:
            super().__init__()
            self.rows = torch.tensor(rows)

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return self.rows[obs[:, 0].long()]

    online = Fixed([[1.0, 5.0, 0.0], [3.0, 0.0, 2.0]])  # argmax: action 1, then action 0
    target = Fixed([[7.0, 2.0, 9.0], [4.0, 6.0, 1.0]])
    y = td_target(batch, online=online, target=target, gamma=0.5, double=True)
    torch.testing.assert_close(y, torch.tensor([1.0 + 0.5 * 2.0, 0.0 + 0.5 * 4.0]))  # Q⁻(s', argmax Q)
    y_max = td_target(batch, online=online, target=target, gamma=0.5, double=False)
    torch.testing.assert_close(y_max, torch.tensor([1.0 + 0.5 * 9.0, 0.0 + 0.5 * 6.0]))  # max Q⁻


def test_dueling_head_subtracts_the_mean_advantage() -> None:
    torch.manual_seed(0)
    net = QNetwork(obs_dim=3, n_actions=4, hidden=(8,), dueling=True)
    obs = torch.randn(5, 3)
    h = net.body(obs)
    value, advantage = net.value(h), net.head(h)  # (5, 1), (5, 4)
    q = net(obs)
    torch.testing.assert_close(q, value + advantage - advantage.mean(-1, keepdim=True))
    torch.testing.assert_close(q.mean(-1, keepdim=True), value)  # V(s) is the mean of Q(s, ·)
    # the same argmax as the advantages: the greedy policy is A's
    assert torch.equal(q.argmax(-1), advantage.argmax(-1))
    assert QNetwork(obs_dim=3, n_actions=4, hidden=(8,)).value is None


def test_agent_maps_the_unit_box_to_the_environment_box() -> None:
    agent = ContinuousAgent(
        obs_dim=2, action_dim=2, action_low=(-2.0, 0.0), action_high=(2.0, 1.0), hidden=(8,),
        critic_hidden=(8,), n_critics=2, stochastic=False,
    )  # fmt: skip
    unit = torch.tensor([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]])
    env = agent.to_env(unit)
    torch.testing.assert_close(env, torch.tensor([[-2.0, 0.0], [0.0, 0.5], [2.0, 1.0]]))
    torch.testing.assert_close(agent.to_unit(env), unit)
    with pytest.raises(ValueError, match="finite bounds"):
        ContinuousAgent(
            obs_dim=2, action_dim=1, action_low=(-math.inf,), action_high=(1.0,), hidden=(8,),
            critic_hidden=(8,), n_critics=2, stochastic=True,
        )  # fmt: skip


# -- learning a 1-D continuous toy ----------------------------------------------------------------------


class TrackTarget(gym.Env):
    """Observe x ~ U(-1, 1), act a in [-2, 2], reward −(a − x)²: the optimal policy is a = x (return 0)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-1, 1, (1,)).astype(np.float32)
        return self.x, {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = -float((float(action[0]) - float(self.x[0])) ** 2)
        self.x = self.np_random.uniform(-1, 1, (1,)).astype(np.float32)
        return self.x, reward, False, False, {}


gym.register("DlzooTrackTargetBox2-v0", entry_point=TrackTarget, max_episode_steps=20)

TOY = [
    "train.progress=false",
    "data.name=DlzooTrackTargetBox2-v0",
    "task.total_steps=1200",
    "task.eval_every_steps=600",
    "task.learning_starts=200",
    "task.gamma=0.5",
    "task.eval_episodes=5",
    "task.final_eval_episodes=10",
    "train.log_every=20",
]
# a uniformly random policy scores about 20 · E[(a − x)²] = 20 · (4/3 + 1/3) ≈ −33; the untrained actor ≈ −7
# (a ≈ 0: 20 · E[x²]); the deterministic return reached at seed 0: sac −0.08, td3 −0.15, ddpg −0.05
TOY_BOUND = -1.0  # |a − x| below ~0.22 on average


def train(tmp: Path, model: str, overrides: list[str], name: str = "run") -> tuple[RunDir, dict]:
    run = RunDir.create(tmp, model, name)
    return run, train_run(resolve_config(model, preset="tiny", overrides=overrides), run)


def without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[RunDir, dict]]:
    tmp = tmp_path_factory.mktemp("runs")
    return {m: train(tmp, m, TOY) for m in ("sac", "td3", "ddpg")}


@pytest.mark.parametrize("model", ["sac", "td3", "ddpg"])
def test_tiny_preset_learns_the_continuous_toy(model: str, toy_runs: dict[str, tuple[RunDir, dict]]) -> None:
    run, result = toy_runs[model]
    assert result["test/return_mean"] > TOY_BOUND
    rows = run.read_metrics()
    assert any("train/critic_loss" in r for r in rows) and any("train/actor_loss" in r for r in rows)
    assert all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float))
    if model == "sac":  # the temperature fell from its initial 1.0 (to 0.42 at seed 0)
        alphas = [r["train/alpha"] for r in rows if "train/alpha" in r]
        assert alphas[-1] < 0.8


def test_served_continuous_policy_is_clipped_to_the_box(
    toy_runs: dict[str, tuple[RunDir, dict]], tmp_path: Path
) -> None:
    run, _ = toy_runs["sac"]
    loaded = load_run(run.path)
    actions = inference.act(loaded, [[0.5], [-0.3], [1.0]])
    assert len(actions) == 3 and all(len(a) == 1 and -2.0 <= a[0] <= 2.0 for a in actions)
    assert actions[0][0] == pytest.approx(0.5, abs=0.25) and actions[1][0] == pytest.approx(-0.3, abs=0.25)
    with torch.no_grad():
        loaded.model.actor.mu.bias.fill_(100.0)  # tanh saturates at the box's upper bound
    assert inference.act(loaded, [[0.0]]) == [[2.0]]
    with pytest.raises(inference.InputError, match="shape"):
        inference.act(loaded, [[0.5, 0.5]])
    from fastapi.testclient import TestClient

    from dlzoo.serve import create_app

    with TestClient(create_app(run.path.parent.parent)) as client:
        ok = client.post("/v1/models/sac/act", json={"inputs": [[0.5], [-0.3]]})
        wrong = client.post("/v1/models/sac/act", json={"inputs": [[0.5, 0.5]]})
        nan = client.post(
            "/v1/models/sac/act", content=b'{"inputs": [[NaN]]}', headers={"content-type": "application/json"}
        )
    assert ok.status_code == 200 and len(ok.json()["actions"]) == 2 and len(ok.json()["actions"][0]) == 1
    assert all(-2.0 <= a[0] <= 2.0 for a in ok.json()["actions"])
    assert wrong.status_code == 422 and "shape" in wrong.json()["detail"]
    assert nan.status_code == 422, nan.text


@pytest.mark.parametrize("model", ["sac", "td3"])
def test_actor_exports_to_onnx_with_parity(model: str, toy_runs: dict[str, tuple[RunDir, dict]]) -> None:
    from dlzoo.export import export_run

    run, _ = toy_runs[model]
    report = export_run(run.path, fmt="onnx")
    assert report.outputs == (3 if model == "sac" else 2) and report.max_abs_diff < 1e-4


SHORT = [*TOY[:3], "task.total_steps=400", "task.eval_every_steps=200", "task.learning_starts=60",
         "task.eval_episodes=2", "task.final_eval_episodes=2", "train.log_every=5"]  # fmt: skip


@pytest.mark.parametrize("model", ["sac", "td3"])
def test_two_seeded_runs_are_identical(model: str, tmp_path: Path) -> None:
    first, a = train(tmp_path, model, SHORT, "a")
    second, b = train(tmp_path, model, SHORT, "b")
    rows = without_time(first.read_metrics())
    assert any("train/critic_loss" in r for r in rows) and any("val/return_mean" in r for r in rows)
    assert rows == without_time(second.read_metrics())
    assert {k: v for k, v in a.items() if k.startswith("test/")} == {
        k: v for k, v in b.items() if k.startswith("test/")
    }


@pytest.mark.parametrize("model", ["sac", "td3"])
def test_resume_after_a_crash_gives_the_uninterrupted_run(
    model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, result = train(tmp_path, model, SHORT, "reference")
    cfg = resolve_config(model, preset="tiny", overrides=SHORT)
    crashed = RunDir.create(tmp_path, model, "crashed")
    original = ReinforcementTask.train_round

    def crash_in_round_1(self: ReinforcementTask, round_idx: int):
        for i, logs in enumerate(original(self, round_idx)):
            if round_idx == 1 and i == 30:  # mid-round, after round 0's checkpoint and a few log lines
                raise KeyboardInterrupt("simulated kill")
            yield logs

    monkeypatch.setattr(ReinforcementTask, "train_round", crash_in_round_1)
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, crashed)
    assert max(r["round"] for r in crashed.read_metrics()) == 1  # partial lines of round 1 were written
    monkeypatch.setattr(ReinforcementTask, "train_round", original)
    resumed = train_run(cfg, crashed, resume=True)
    assert without_time(crashed.read_metrics()) == without_time(run.read_metrics())
    for key in [k for k in result if k.startswith("test/")] + ["steps"]:
        assert resumed[key] == result[key], key


# -- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["sac", "td3", "ddpg"])
def test_discrete_action_space_says_which_algorithms_fit(model: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dqn, ppo"):
        train(tmp_path, model, ["train.progress=false", "data.name=CartPole-v1"])


def test_unknown_task_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="policy_delay"):
        train(tmp_path, "sac", ["train.progress=false", "task.policy_delay=2"])  # TD3's, not SAC's
