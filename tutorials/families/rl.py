# %% [markdown]
# # rl: a Deep Q-Network balancing CartPole
#
# Reinforcement learning learns from reward instead of labels. DQN (Mnih et al. 2015) learns the
# action values Q(s, a), the return expected after taking action a in state s, by regressing on the
# temporal-difference target y = r + gamma * max_a' Q_target(s', a') over transitions drawn from a
# replay buffer; a slowly updated target network keeps the target still, and the agent explores
# epsilon-greedily. The policy is then greedy: a = argmax_a Q(s, a). Theory, every hyperparameter,
# and the comparison with Stable-Baselines3: [the rl family README](../../src/dlzoo/families/rl/README.md).

# %%
import json
from pathlib import Path

import gymnasium as gym
import torch
from fastapi.testclient import TestClient
from IPython.display import Image, display

import dlzoo
import dlzoo.evaluate
import dlzoo.export
import dlzoo.serve
from dlzoo import inference

torch.set_num_threads(1)
RUNS = Path("runs")
MODEL = "dqn"

# %% [markdown]
# ## The environment
#
# CartPole-v1: push a cart left or right to keep a pole upright; +1 reward per step, at most 500
# steps. The observation is (cart position, cart velocity, pole angle, pole angular velocity).
# The control is a random policy.

# %%
cfg = dlzoo.resolve_config(MODEL, preset="tiny")
env = gym.make(cfg.data["name"])
print(env.observation_space, env.action_space)


def episode_return(policy, seed: int) -> float:
    """Total reward of one episode of `policy(observation) -> action`."""
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        total += reward
        done = terminated or truncated
    return total


env.action_space.seed(0)
random_returns = [episode_return(lambda obs: env.action_space.sample(), seed) for seed in range(20)]
random_mean = sum(random_returns) / len(random_returns)
print(f"random policy: mean return {random_mean:.1f} over {len(random_returns)} episodes")

# %% [markdown]
# ## Train
#
# The tiny preset takes 4000 environment steps; its `task:` settings are DQN's hyperparameters.

# %%
print(cfg.task)
run = dlzoo.train(MODEL, preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
print(run.path)
print({k: round(v, 2) for k, v in run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Plots: episode returns during training, and the learning curves

# %%
for png in sorted((run.path / "plots").glob("*.png")):
    print(png.name)
    display(Image(filename=str(png)))

# %% [markdown]
# ## Evaluate (rebuilt from config.yaml + model.safetensors: greedy episodes on fresh seeds)

# %%
metrics = dlzoo.evaluate.evaluate_run(run.path)
print({k: round(v, 2) for k, v in metrics.items() if k.startswith("test/")})

# %% [markdown]
# ## Act
#
# `act` returns the greedy action for each observation; here it drives the environment.

# %%
loaded = dlzoo.load_run(run.path)
print("actions for two observations:", inference.act(loaded, [[0.0, 0.0, 0.05, 0.0], [0.0, 0.0, -0.05, 0.0]]))
greedy_returns = [episode_return(lambda obs: inference.act(loaded, obs.tolist())[0], 100 + s) for s in range(3)]
print("greedy returns on 3 new episodes:", greedy_returns)

# %% [markdown]
# ## Serve: `POST /v1/models/dqn/act {"inputs": observations}`

# %%
observations = torch.randn(5, 4, generator=torch.Generator().manual_seed(0)) * 0.05
with TestClient(dlzoo.serve.create_app(RUNS)) as client:
    served = client.post(f"/v1/models/{MODEL}/act", json={"inputs": observations.tolist()}).json()
    bad = client.post(f"/v1/models/{MODEL}/act", json={"inputs": [[0.1, 0.2]]})
    print(bad.status_code, bad.json()["detail"])
print("served actions:", served["actions"])

# %% [markdown]
# ## Export to ONNX: observations in, the Q-values of both actions out

# %%
report = dlzoo.export.export_run(run.path, fmt="onnx")
print(report.path.relative_to(run.path), "exporter", report.exporter, "max |onnx - torch| =", report.max_abs_diff)

# %% [markdown]
# ## Result
#
# The greedy policy's mean return over the final evaluation episodes must be well above the random
# policy's.

# %%
mean_return = run.metrics["test/return_mean"]
print(f"DQN mean return {mean_return:.1f} vs random {random_mean:.1f}")
assert mean_return > 60 and mean_return > 2.5 * random_mean, mean_return  # tiny DQN: 132-253 (seeds 0-2)
assert served["actions"] == inference.act(loaded, observations)

# %% [markdown]
# ## PPO: a policy gradient on the same environment
#
# PPO (Schulman et al. 2017) learns a policy pi(a|s) and a critic V(s) instead of action values. It
# collects rollouts from 8 CartPole copies at once (gymnasium's `SyncVectorEnv`), estimates each
# action's advantage with GAE, and takes several epochs of minibatch steps on the clipped surrogate
# min(r A, clip(r, 1 - eps, 1 + eps) A), where r = pi_new(a|s) / pi_old(a|s): the policy improves
# without moving far from the one that collected the data. The tiny preset is the RL Zoo's CartPole
# recipe for 20480 steps.

# %%
ppo_cfg = dlzoo.resolve_config("ppo", preset="tiny")
print(ppo_cfg.task)
ppo_run = dlzoo.train("ppo", preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
print({k: round(v, 2) for k, v in ppo_run.metrics.items() if k.startswith("test/")})

# %% [markdown]
# What an update logs: the clipped loss, how far the policy moved (approx_kl: an estimate of
# KL[pi_old || pi_new]; clip_fraction: the share of transitions where the clip is active), and how much
# of the returns' variance the critic explains.

# %%
rows = [json.loads(line) for line in (ppo_run.path / "metrics.jsonl").read_text().splitlines()]
for row in [r for r in rows if "train/approx_kl" in r][::2]:
    print(
        {k: round(row[k], 4) for k in ("step", "train/approx_kl", "train/clip_fraction", "train/explained_variance")},
        "episode return",
        round(row.get("train/episode_return", float("nan")), 1),
    )
display(Image(filename=str(ppo_run.path / "plots" / "learning_curves.png")))

# %% [markdown]
# The deterministic policy (argmax pi(a|s)) is what `/act` serves and what ONNX exports (logits and V).

# %%
ppo_loaded = dlzoo.load_run(ppo_run.path)
print("actions:", inference.act(ppo_loaded, [[0.0, 0.0, 0.1, 0.5], [0.0, 0.0, -0.1, -0.5]]))
ppo_report = dlzoo.export.export_run(ppo_run.path, fmt="onnx")
print("ONNX outputs:", ppo_report.outputs, "max |onnx - torch| =", ppo_report.max_abs_diff)
ppo_return = ppo_run.metrics["test/return_mean"]
print(f"PPO mean return {ppo_return:.1f} vs random {random_mean:.1f}")
assert ppo_return > 150 and ppo_report.outputs == 2, ppo_return  # tiny PPO: 236 at seed 0

# %% [markdown]
# ## SAC and TD3: continuous actions from a replay buffer
#
# Pendulum-v1 asks for a torque in [-2, 2]. SAC (Haarnoja et al. 2018) learns a tanh-squashed Gaussian
# policy and two Q-critics from replayed transitions; its critics regress on the soft target
# y = r + gamma (min_i Q_i'(s', a') - alpha log pi(a'|s')), and the temperature alpha is tuned so the
# policy's entropy stays near -dim(A). TD3 (Fujimoto et al. 2018) learns a deterministic policy mu(s)
# by the deterministic policy gradient, with clipped double-Q, target policy smoothing and delayed
# actor updates. The tiny presets run 1000 steps (five episodes): a complete run in seconds, far too
# short to swing the pendulum up (the `pendulum` presets run the RL Zoo's 20k steps).

# %%
sac_run = dlzoo.train("sac", preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
td3_run = dlzoo.train("td3", preset="tiny", overrides=["train.progress=false"], runs_dir=RUNS)
for name, r in (("sac", sac_run), ("td3", td3_run)):
    print(name, {k: round(v, 1) for k, v in r.metrics.items() if k in ("test/return_mean", "test/return_iqm")})
sac_rows = [json.loads(line) for line in (sac_run.path / "metrics.jsonl").read_text().splitlines()]
for row in [r for r in sac_rows if "train/alpha" in r][::2]:
    print({k: round(row[k], 3) for k in ("step", "train/alpha", "train/entropy", "train/critic_loss", "train/q_mean")})

# %% [markdown]
# `/act` answers the deterministic action (tanh(mu(s)) for SAC, mu(s) for TD3) in the environment's
# box, one vector per observation; the ONNX export carries the action, the critics' values of it and,
# for SAC, log sigma(s).

# %%
sac_loaded = dlzoo.load_run(sac_run.path)
torques = inference.act(sac_loaded, [[1.0, 0.0, 0.0], [0.0, 1.0, 2.0]])
print("torques:", torques)
assert all(len(t) == 1 and -2.0 <= t[0] <= 2.0 for t in torques)
sac_report = dlzoo.export.export_run(sac_run.path, fmt="onnx")
print("ONNX outputs:", sac_report.outputs, "max |onnx - torch| =", sac_report.max_abs_diff)
assert sac_report.outputs == 3 and sac_report.max_abs_diff < 1e-4
