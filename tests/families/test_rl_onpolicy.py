"""The rl family's policy gradients (REINFORCE, A2C, PPO): GAE and returns by hand, PPO's clipped losses on
crafted ratios, the policies, learning on CartPole and a 1-D continuous toy, determinism, resume, serving,
bad input.

Everything runs on gymnasium's bundled environments and one registered here; nothing reads /work/shared
or the network.
"""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from dlzoo import inference
from dlzoo.config import ConfigError, resolve_config
from dlzoo.data.rollout import RolloutBuffer
from dlzoo.families.rl.advantages import discounted_returns, gae, normalize
from dlzoo.families.rl.model import CategoricalActorCritic, GaussianActorCritic, sample_action
from dlzoo.families.rl.ppo import clipped_surrogate, value_loss
from dlzoo.runs import RunDir, load_run
from dlzoo.tasks.onpolicy import OnPolicyTask
from dlzoo.training.loop import train_run

# -- a fixed trajectory: T = 6 steps of N = 2 environments -----------------------------------------
# env 0: terminates after step 1 (a new episode starts at step 2), a time limit truncates it after
#        step 3 (V(s_final) = 10), and the rollout cuts the third episode after step 5
# env 1: one episode through all six steps, cut by the rollout
REWARDS = torch.tensor([[1.0, 0.5], [2.0, -1.0], [0.0, 2.0], [1.0, 0.0], [-1.0, 1.0], [3.0, 0.5]])
VALUES = torch.tensor([[0.5, 1.0], [1.5, 0.2], [-0.5, 0.3], [2.0, 0.1], [1.0, -0.4], [0.2, 0.8]])
TERMINATED = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
TRUNCATED = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
FINAL_V = 10.0  # V(s_final) of env 0's truncated episode
LAST_VALUE = torch.tensor([4.0, -2.0])  # V(s_T) at the rollout's cut


def fixed_rollout() -> RolloutBuffer:
    buf = RolloutBuffer(6, 2, (1,), (), discrete=True)
    for t in range(6):
        buf.add(
            torch.zeros(2, 1), torch.zeros(2, dtype=torch.int64), torch.zeros(2), VALUES[t], REWARDS[t],
            TERMINATED[t], TRUNCATED[t],
        )  # fmt: skip
        if TRUNCATED[t].any():
            buf.set_final_values(TRUNCATED[t].bool(), torch.tensor([FINAL_V]))
    return buf


def episodes_of(env: int) -> list[tuple[list[int], float | None]]:
    """Env ``env``'s steps split into episodes: (steps, bootstrap value or None when it terminated)."""
    if env == 0:
        return [([0, 1], None), ([2, 3], FINAL_V), ([4, 5], float(LAST_VALUE[0]))]
    return [([0, 1, 2, 3, 4, 5], float(LAST_VALUE[1]))]


def hand_returns(gamma: float) -> torch.Tensor:
    """G_t = Σ_k γ^k r_{t+k} to the episode's last step, + γ^n V_boot where it was cut: a forward sum."""
    out = torch.zeros(6, 2)
    for env in range(2):
        for steps, boot in episodes_of(env):
            for i, t in enumerate(steps):
                rest = steps[i:]
                g = sum(gamma**k * float(REWARDS[s, env]) for k, s in enumerate(rest))
                if boot is not None:
                    g += gamma ** len(rest) * boot
                out[t, env] = g
    return out


def hand_gae(gamma: float, lam: float) -> torch.Tensor:
    """Â_t = Σ_l (γλ)^l δ_{t+l} over the rest of the episode, δ with V(s_{t+1}) = 0 after termination: a forward sum."""
    out = torch.zeros(6, 2)
    for env in range(2):
        for steps, boot in episodes_of(env):
            nexts = [float(VALUES[s, env]) for s in steps[1:]] + [0.0 if boot is None else boot]
            deltas = [
                float(REWARDS[s, env]) + gamma * nv - float(VALUES[s, env]) for s, nv in zip(steps, nexts, strict=True)
            ]
            for i, t in enumerate(steps):
                out[t, env] = sum((gamma * lam) ** k * d for k, d in enumerate(deltas[i:]))
    return out


def test_next_values_bootstrap_truncation_but_not_termination() -> None:
    nv = fixed_rollout().next_values(LAST_VALUE)
    assert float(nv[3, 0]) == FINAL_V  # truncated: V(s_final), not V of the next episode's first state
    assert float(nv[2, 0]) == float(VALUES[3, 0]) and float(nv[5, 1]) == float(LAST_VALUE[1])
    assert float(nv[5, 0]) == float(LAST_VALUE[0])


@pytest.mark.parametrize("gamma", [0.9, 0.5])
def test_discounted_returns_by_hand(gamma: float) -> None:
    buf = fixed_rollout()
    got = discounted_returns(buf.rewards, buf.next_values(LAST_VALUE), buf.terminated, buf.truncated, gamma=gamma)
    torch.testing.assert_close(got, hand_returns(gamma))
    # one number worked out on paper: env 0, step 2 (truncated after step 3): 0 + γ·1 + γ²·10
    assert float(got[2, 0]) == pytest.approx(gamma * 1.0 + gamma**2 * FINAL_V)
    assert float(got[1, 0]) == pytest.approx(2.0)  # terminated: the reward alone, no bootstrap


@pytest.mark.parametrize(("gamma", "lam"), [(0.99, 0.95), (0.9, 0.0), (0.98, 0.8), (0.9, 1.0)])
def test_gae_by_hand(gamma: float, lam: float) -> None:
    buf = fixed_rollout()
    nv = buf.next_values(LAST_VALUE)
    got = gae(buf.rewards, buf.values, nv, buf.terminated, buf.truncated, gamma=gamma, lam=lam)
    torch.testing.assert_close(got, hand_gae(gamma, lam))
    if lam == 1.0:  # GAE(γ, 1) is the discounted return minus the baseline
        returns = discounted_returns(buf.rewards, nv, buf.terminated, buf.truncated, gamma=gamma)
        torch.testing.assert_close(got, returns - buf.values)
    if lam == 0.0:  # GAE(γ, 0) is the one-step TD error; env 0's terminal step has no bootstrap
        assert float(got[1, 0]) == pytest.approx(2.0 - 1.5)


def test_clipped_surrogate_on_crafted_ratios() -> None:
    ratio = torch.tensor([0.5, 1.0, 1.1, 1.5])  # below, at, inside and above [0.8, 1.2]
    # Â > 0: min(r Â, clip(r) Â) = 0.5, 1.0, 1.1, 1.2 (the gain stops at 1 + ε)
    assert float(clipped_surrogate(ratio, torch.ones(4), clip_range=0.2)) == pytest.approx(-(0.5 + 1.0 + 1.1 + 1.2) / 4)
    # Â < 0: min(−r, −clip(r)) = −0.8, −1.0, −1.1, −1.5 (the loss keeps growing above, stops at 1 − ε below)
    assert float(clipped_surrogate(ratio, -torch.ones(4), clip_range=0.2)) == pytest.approx((0.8 + 1.0 + 1.1 + 1.5) / 4)
    # gradients: zero exactly where the clip is active in the direction Â favours
    for adv, zero in ((1.0, [False, False, False, True]), (-1.0, [True, False, False, False])):
        r = ratio.clone().requires_grad_(True)
        clipped_surrogate(r, torch.full((4,), adv), clip_range=0.2).backward()
        assert [float(g) == 0.0 for g in r.grad] == zero, adv


def test_value_clipping_takes_the_larger_error() -> None:
    old, v = torch.tensor([1.0, 1.0]), torch.tensor([2.0, 2.0])  # V moved by 1, ε_v = 0.5: V_clip = 1.5
    targets = torch.tensor([3.0, 0.0])
    # target 3: (2 − 3)² = 1 unclipped, (1.5 − 3)² = 2.25 clipped -> 2.25; target 0: 4 vs 2.25 -> 4
    assert float(value_loss(v, old, targets, clip_range_vf=0.5)) == pytest.approx((2.25 + 4.0) / 2)
    assert float(value_loss(v, old, targets, clip_range_vf=None)) == pytest.approx((1.0 + 4.0) / 2)


def test_advantage_normalisation() -> None:
    a = torch.tensor([1.0, 2.0, 3.0, 10.0])
    n = normalize(a)
    assert float(n.mean()) == pytest.approx(0.0, abs=1e-6) and float(n.std()) == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(normalize(torch.tensor([5.0])), torch.tensor([5.0]))  # one number: left alone


# -- policies ---------------------------------------------------------------------------------------


def test_gaussian_policy_log_prob_and_deterministic_action() -> None:
    policy = GaussianActorCritic(
        obs_dim=3, action_dim=2, action_low=(-1.0, -2.0), action_high=(1.0, 2.0), hidden=(8,), activation="tanh",
        log_std_init=-0.5,
    )  # fmt: skip
    obs = torch.randn(5, 3)
    dist, value = policy.distribution(obs)
    mean, log_std, _ = policy(obs)
    a = sample_action(dist, torch.Generator().manual_seed(0))  # (5, 2)
    # log N(a; μ, σ²) summed over the action's dimensions, σ = exp(log_std) state-independent
    by_hand = (-0.5 * ((a - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    torch.testing.assert_close(dist.log_prob(a), by_hand)
    assert value.shape == (5,) and torch.equal(log_std[0], log_std[4])
    with torch.no_grad():
        policy.actor[-1].bias.copy_(torch.tensor([5.0, -5.0]))  # μ far outside the box
    act = policy.deterministic(obs)
    assert torch.equal(act, torch.tensor([[1.0, -2.0]]).expand(5, 2))  # clipped to [low, high]


def test_orthogonal_init_and_near_uniform_first_policy() -> None:
    policy = CategoricalActorCritic(obs_dim=4, n_actions=2, hidden=(64, 64), activation="tanh")
    w = policy.actor[0].weight  # (64, 4): orthogonal columns with gain √2
    torch.testing.assert_close(w.T @ w, 2.0 * torch.eye(4), atol=1e-5, rtol=1e-5)
    probs = policy.distribution(torch.randn(100, 4))[0].probs.detach()
    assert float((probs - 0.5).abs().max()) < 0.05  # the 0.01-gain head: the first policy is almost uniform


def test_sampled_actions_follow_the_policy() -> None:
    policy = CategoricalActorCritic(obs_dim=1, n_actions=3, hidden=(), activation="tanh")
    with torch.no_grad():
        policy.actor[0].weight.zero_()
        policy.actor[0].bias.copy_(torch.log(torch.tensor([0.2, 0.3, 0.5])))
    dist, _ = policy.distribution(torch.zeros(20_000, 1))
    a = sample_action(dist, torch.Generator().manual_seed(0))
    freq = torch.bincount(a, minlength=3).float() / a.numel()
    torch.testing.assert_close(freq, torch.tensor([0.2, 0.3, 0.5]), atol=0.015, rtol=0)


# -- through the loop -------------------------------------------------------------------------------


class TrackTarget(gym.Env):
    """A 1-D continuous toy: observe x ~ U(−1, 1), act a ∈ [−1, 1], reward −(a − x)²; 20 steps then a time limit.

    The best policy a = x scores 0; the initial deterministic policy (μ ≈ 0) about −20/3 ≈ −6.7 per episode."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-1, 1, (1,)).astype(np.float32)
        return self.x, {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = -float((float(action[0]) - float(self.x[0])) ** 2)
        self.x = self.np_random.uniform(-1, 1, (1,)).astype(np.float32)
        return self.x, reward, False, False, {}


class MultiBinaryEnv(TrackTarget):
    action_space = gym.spaces.MultiBinary(2)


gym.register("DlzooTrackTarget-v0", entry_point=TrackTarget, max_episode_steps=20)
gym.register("DlzooMultiBinary-v0", entry_point=MultiBinaryEnv, max_episode_steps=20)

TOY = [
    "train.progress=false",
    "data.name=DlzooTrackTarget-v0",
    "task.total_steps=8192",
    "task.eval_every_steps=4096",
    "task.n_envs=4",
    "task.gamma=0.9",
    "task.eval_episodes=5",
    "task.final_eval_episodes=10",
]
# per algorithm: the settings that learn the toy in 8192 steps (seconds); the deterministic return reached
# (seed 0): PPO −0.003, A2C −0.11, REINFORCE −0.02; the untrained policy about −6.7
TOY_SETTINGS = {
    "ppo": ["task.n_steps=64", "task.n_epochs=10", "train.batch_size=64", "train.lr=3e-3", "task.gae_lambda=0.95",
            "task.clip_range_schedule=constant", "task.lr_schedule=constant"],
    "a2c": ["task.n_steps=8", "train.lr=3e-3", "task.normalize_advantage=true"],
    "reinforce": ["task.n_steps=20", "train.lr=1e-2"],
}  # fmt: skip


def train(tmp: Path, model: str, overrides: list[str], name: str = "run") -> tuple[RunDir, dict]:
    run = RunDir.create(tmp, model, name)
    return run, train_run(resolve_config(model, preset="tiny", overrides=overrides), run)


def without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


@pytest.mark.parametrize("model", ["ppo", "a2c", "reinforce"])
def test_continuous_toy_is_learned(model: str, tmp_path: Path) -> None:
    run, result = train(tmp_path, model, TOY + TOY_SETTINGS[model])
    assert result["test/return_mean"] > -1.0  # |a − x| below ~0.22 on average; untrained: about −6.7
    stds = [r["train/std"] for r in run.read_metrics() if "train/std" in r]
    assert stds and all(s > 0 for s in stds)
    if model != "ppo":
        return
    # served: μ(s) clipped to the box, one action vector per observation; x = 0.5 is answered near 0.5
    loaded = load_run(run.path)
    actions = inference.act(loaded, [[0.5], [-0.3], [1.0]])
    assert len(actions) == 3 and all(len(a) == 1 and -1.0 <= a[0] <= 1.0 for a in actions)
    assert actions[0][0] == pytest.approx(0.5, abs=0.2) and actions[1][0] == pytest.approx(-0.3, abs=0.2)
    with torch.no_grad():
        loaded.model.actor[-1].bias.fill_(100.0)  # μ far beyond the box: clipped to its upper bound
    assert inference.act(loaded, [[0.0]]) == [[1.0]]
    with pytest.raises(inference.InputError, match="shape"):
        inference.act(loaded, [[0.5, 0.5]])
    # over HTTP: a vector per observation, 422 for a wrong shape or a NaN (JSON's NaN literal)
    from fastapi.testclient import TestClient

    from dlzoo.serve import create_app

    with TestClient(create_app(tmp_path)) as client:
        ok = client.post("/v1/models/ppo/act", json={"inputs": [[0.5], [-0.3]]})
        wrong = client.post("/v1/models/ppo/act", json={"inputs": [[0.5, 0.5]]})
        nan = client.post(
            "/v1/models/ppo/act", content=b'{"inputs": [[NaN]]}', headers={"content-type": "application/json"}
        )
    assert ok.status_code == 200 and len(ok.json()["actions"]) == 2 and len(ok.json()["actions"][0]) == 1
    assert wrong.status_code == 422 and "shape" in wrong.json()["detail"]
    assert nan.status_code == 422, nan.text
    # ONNX export of the Gaussian policy (mean, log-std, value) with parity
    from dlzoo.export import export_run

    report = export_run(run.path, fmt="onnx")
    assert report.outputs == 3 and report.max_abs_diff < 1e-4


# the tiny presets' deterministic CartPole return at seed 0 (train.threads=1): PPO 236, A2C 153, REINFORCE 88;
# a uniformly random policy scores ~22, the untrained near-uniform policy's argmax ~9
CARTPOLE_BOUND = {"ppo": 150, "a2c": 100, "reinforce": 50}
# the mean training-episode return of the last rollout against the first (sampled actions; REINFORCE's long
# rollouts end few episodes per rollout, and those that end are the short ones: 24 -> 32 at seed 0)
TRAIN_GROWTH = {"ppo": 2.0, "a2c": 2.0, "reinforce": 1.2}


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[RunDir, dict]]:
    tmp = tmp_path_factory.mktemp("runs")
    return {m: train(tmp, m, ["train.progress=false"]) for m in CARTPOLE_BOUND}


@pytest.mark.parametrize("model", list(CARTPOLE_BOUND))
def test_tiny_preset_learns_cartpole(model: str, tiny_runs: dict[str, tuple[RunDir, dict]]) -> None:
    run, result = tiny_runs[model]
    assert result["test/return_mean"] >= CARTPOLE_BOUND[model]
    rows = run.read_metrics()
    returns = [r["train/episode_return"] for r in rows if "train/episode_return" in r]
    assert returns[-1] > TRAIN_GROWTH[model] * returns[0]  # the sampled policy's training episodes lengthen too
    assert all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float))


def test_served_policy_acts_from_the_saved_weights(tiny_runs: dict[str, tuple[RunDir, dict]]) -> None:
    run, _ = tiny_runs["ppo"]
    loaded = load_run(run.path)
    actions = inference.act(loaded, [[0.0, 0.0, 0.1, 0.5], [0.0, 0.0, -0.1, -0.5]])
    assert actions == [1, 0]  # pole falling right: push right; falling left: push left
    with pytest.raises(inference.InputError, match="shape"):
        inference.act(loaded, [[0.0, 0.0, 0.0]])
    with pytest.raises(inference.InputError, match="NaN"):
        inference.act(loaded, [[0.0, float("nan"), 0.0, 0.0]])


SHORT = ["train.progress=false", "task.total_steps=6144", "task.eval_every_steps=2048", "task.eval_episodes=2",
         "task.final_eval_episodes=2", "train.log_every=2"]  # fmt: skip


def test_two_seeded_runs_are_identical(tmp_path: Path) -> None:
    first, a = train(tmp_path, "ppo", SHORT, "a")
    second, b = train(tmp_path, "ppo", SHORT, "b")
    rows = without_time(first.read_metrics())
    assert any("train/policy_loss" in r for r in rows) and any("val/return_mean" in r for r in rows)
    assert rows == without_time(second.read_metrics())
    assert {k: v for k, v in a.items() if k.startswith("test/")} == {
        k: v for k, v in b.items() if k.startswith("test/")
    }


@pytest.mark.parametrize("extra", [[], ["task.normalize_reward=true"]], ids=["plain", "normalize_reward"])
def test_resume_after_a_crash_gives_the_uninterrupted_run(
    extra: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, result = train(tmp_path, "ppo", [*SHORT, *extra], "reference")
    cfg = resolve_config("ppo", preset="tiny", overrides=[*SHORT, *extra])
    crashed = RunDir.create(tmp_path, "ppo", "crashed")
    original = OnPolicyTask.train_round

    def crash_in_round_1(self: OnPolicyTask, round_idx: int):
        for i, logs in enumerate(original(self, round_idx)):
            if round_idx == 1 and i == 5:  # mid-round, after round 0's checkpoint and a few log lines
                raise KeyboardInterrupt("simulated kill")
            yield logs

    monkeypatch.setattr(OnPolicyTask, "train_round", crash_in_round_1)
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, crashed)
    assert max(r["round"] for r in crashed.read_metrics()) == 1  # partial lines of round 1 were written
    monkeypatch.setattr(OnPolicyTask, "train_round", original)
    resumed = train_run(cfg, crashed, resume=True)
    assert without_time(crashed.read_metrics()) == without_time(run.read_metrics())
    for key in [k for k in result if k.startswith("test/")] + ["steps"]:
        assert resumed[key] == result[key], key


def test_reward_normalisation_trains_on_scaled_rewards_and_logs_raw_returns(tmp_path: Path) -> None:
    few = ["train.progress=false", "task.total_steps=1024", "task.eval_every_steps=1024", "task.eval_episodes=1",
           "task.final_eval_episodes=1", "train.log_every=1"]  # fmt: skip
    plain, _ = train(tmp_path, "ppo", few, "plain")
    scaled, _ = train(tmp_path, "ppo", [*few, "task.normalize_reward=true"], "scaled")
    rows = [r for r in scaled.read_metrics() if "train/episode_return" in r]
    assert rows and all(r["train/episode_return"] == r["train/episode_length"] for r in rows)  # raw: +1 a step
    loss = [r["train/value_loss"] for r in plain.read_metrics() if "train/value_loss" in r]
    loss_scaled = [r["train/value_loss"] for r in scaled.read_metrics() if "train/value_loss" in r]
    assert loss_scaled[0] != loss[0]  # the critic regresses on the scaled rewards' returns


# -- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["ppo", "a2c", "reinforce"])
def test_unsupported_action_space_says_which_are(model: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="supports Discrete and Box action spaces.*MultiBinary"):
        train(tmp_path, model, ["train.progress=false", "data.name=DlzooMultiBinary-v0"])


def test_unknown_environment_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown environment 'CartPole-v9'; valid: .*CartPole-v1"):
        resolve_config("ppo", preset="tiny", overrides=["data.name=CartPole-v9"])


def test_minibatch_larger_than_a_rollout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train.batch_size=512 exceeds a rollout of n_envs x n_steps = 256"):
        train(tmp_path, "ppo", ["train.progress=false", "train.batch_size=512", "task.total_steps=256"])


def test_async_vector_env_gives_the_sync_run(tmp_path: Path) -> None:
    few = ["train.progress=false", "task.total_steps=512", "task.eval_every_steps=512", "task.eval_episodes=1",
           "task.final_eval_episodes=1", "train.log_every=1"]  # fmt: skip
    sync, _ = train(tmp_path, "ppo", few, "sync")
    two = [*few, "task.n_envs=2", "train.batch_size=64"]
    asyn, _ = train(tmp_path, "ppo", [*two, "task.vectorization=async"], "async")
    syn2, _ = train(tmp_path, "ppo", two, "sync2")
    assert without_time(asyn.read_metrics()) == without_time(syn2.read_metrics())
    assert without_time(sync.read_metrics()) != without_time(syn2.read_metrics())  # n_envs matters: a real check
