"""The rl family's policy gradients (REINFORCE, A2C, PPO): GAE and returns by hand, PPO's clipped losses on
crafted ratios, the policies, learning on CartPole and a 1-D continuous toy, determinism, resume, serving,
bad input.

Everything runs on gymnasium's bundled environments and one registered here; nothing reads /work/shared
or the network.
"""

from __future__ import annotations


import pytest
import torch

from dlzoo.data.rollout import RolloutBuffer
from dlzoo.families.rl.advantages import discounted_returns, gae, normalize
from dlzoo.families.rl.ppo import clipped_surrogate, value_loss

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
