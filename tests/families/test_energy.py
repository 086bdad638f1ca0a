"""Energy family: RBM free energy, conditionals and log Z against brute force; AIS against exact;
Hopfield energy descent, fixed points and the modern update as attention; a learning test; serving.

Everything is small enough to enumerate; the whole file runs in well under a minute on one thread.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from fastapi.testclient import TestClient

from dlzoo.families.energy.hopfield import ClassicalHopfield, HopfieldAttention, ModernHopfield, hopfield_update, spins
from dlzoo.families.energy.hopfield_objective import flip
from dlzoo.families.energy.objective import RBMObjective, mean_neg_free_energy
from dlzoo.families.energy.partition import (
    AISBudgetError,
    all_binary,
    base_rate_loglik,
    log_z_ais,
    log_z_brute_force,
    log_z_exact,
)
from dlzoo.families.energy.rbm import RBM, base_rate_bias


def random_rbm(d: int, h: int, *, visible: str = "bernoulli", scale: float = 1.0, seed: int = 0) -> RBM:
    torch.manual_seed(seed)
    rbm = RBM(input_shape=(d,), n_hidden=h, visible=visible, init_std=scale).double()
    with torch.no_grad():
        rbm.b.normal_(0, scale)
        rbm.c.normal_(0, scale)
    return rbm


# -- RBM: against enumeration -----------------------------------------------------------------------


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_free_energy_is_minus_log_sum_over_hidden_states(visible: str) -> None:
    rbm = random_rbm(6, 5, visible=visible)
    v = torch.randn(7, 6, dtype=torch.float64) if visible == "gaussian" else all_binary(6)[::9].double()
    hs = all_binary(5).double()  # (32, 5)
    energies = torch.stack([rbm.energy(v, h.expand(len(v), 5)) for h in hs], 1)  # (B, 32)
    torch.testing.assert_close(rbm.free_energy(v), -torch.logsumexp(-energies, 1))


def test_conditionals_match_enumeration() -> None:
    rbm = random_rbm(5, 4)
    vs, hs = all_binary(5).double(), all_binary(4).double()  # (32, 5), (16, 4)
    neg_e = vs @ rbm.b + (hs @ rbm.c)[:, None] + hs @ rbm.W @ vs.T  # (16 h, 32 v): -E(v, h)
    joint = torch.softmax(neg_e.flatten(), 0).reshape(neg_e.shape).detach()  # p(v, h)
    p_h_given_v = joint / joint.sum(0, keepdim=True)  # (16, 32)
    torch.testing.assert_close(rbm.hidden_probs(vs), (p_h_given_v.T @ hs))  # E[h | v] = p(h_j = 1 | v)
    p_v_given_h = joint / joint.sum(1, keepdim=True)  # (16, 32)
    torch.testing.assert_close(rbm.visible_mean(hs), p_v_given_h @ vs)


def test_exact_log_z_matches_enumeration_of_every_visible_and_hidden_state() -> None:
    rbm = random_rbm(9, 7)
    torch.testing.assert_close(log_z_exact(rbm), log_z_brute_force(rbm))
    # and p(v) sums to one over the 2^9 visible states
    log_p = (-rbm.free_energy(all_binary(9).double()) - log_z_exact(rbm)).detach()
    assert float(torch.logsumexp(log_p, 0)) == pytest.approx(0.0, abs=1e-9)


def test_gaussian_log_z_matches_quadrature() -> None:
    rbm = random_rbm(1, 3, visible="gaussian", scale=0.7)
    v = torch.linspace(-20, 20, 200_001, dtype=torch.float64)[:, None]  # (n, 1) a fine grid
    log_integral = torch.logsumexp(-rbm.free_energy(v), 0) + math.log(float(v[1] - v[0]))
    assert float(log_z_exact(rbm)) == pytest.approx(float(log_integral), abs=1e-6)


def test_log_z_exact_refuses_too_many_hidden_units() -> None:
    with pytest.raises(AISBudgetError, match="use AIS"):
        log_z_exact(RBM(input_shape=(4,), n_hidden=30), max_hidden=25)


def test_ais_is_within_a_tenth_of_a_nat_of_exact_on_a_tiny_model() -> None:
    rbm = random_rbm(20, 10, scale=0.5, seed=1).float()
    data = torch.bernoulli(torch.full((500, 20), 0.3), generator=torch.Generator().manual_seed(0))
    exact = float(log_z_exact(rbm))
    ais = log_z_ais(rbm, base_rate_bias(data), n_chains=200, n_betas=1000, generator=torch.Generator().manual_seed(0))
    assert abs(ais.log_z - exact) < 0.1, (ais, exact)
    assert ais.log_z_low - 0.05 <= exact <= ais.log_z_high + 0.05


def test_ais_over_its_budget_says_so_instead_of_running() -> None:
    rbm = RBM(input_shape=(784,), n_hidden=500)
    with pytest.raises(AISBudgetError, match="over the budget of 10 GFLOP"):
        log_z_ais(rbm, torch.zeros(784), n_chains=100, n_betas=14500, budget_gflop=10)


# -- RBM: learning, and the persistent chains in the state -------------------------------------------


def bars_and_stripes(side: int = 3) -> torch.Tensor:
    """Every side x side image made of full rows or full columns (MacKay 2003): (2^(side+1) - 2, side^2)."""
    rows = all_binary(side)  # (2^side, side) which rows/columns are on
    horizontal = rows[:, :, None].expand(-1, side, side)
    vertical = rows[:, None, :].expand(-1, side, side)
    return torch.unique(torch.cat([horizontal, vertical]).flatten(1), dim=0)


def test_a_tiny_rbm_learns_bars_and_stripes_far_above_the_base_rate_model() -> None:
    x = bars_and_stripes(3)  # (14, 9): log(1/14) = -2.64 nats is the best any model can do
    torch.manual_seed(0)
    rbm = RBM(input_shape=(9,), n_hidden=8, init_std=0.1)
    objective = RBMObjective(RBMObjective.Config(k=1, persistent=True, n_chains=50))
    opt = torch.optim.SGD(rbm.parameters(), lr=0.1, momentum=0.5)
    for _ in range(1500):
        loss, _ = objective.loss(rbm, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    loglik = mean_neg_free_energy(rbm, x) - float(log_z_exact(rbm))
    base = float(base_rate_loglik(x, base_rate_bias(x)).mean())  # about -6.2 nats
    assert loglik > base + 2.0, (loglik, base)


def test_persistent_chains_are_state_and_resume_exactly() -> None:
    x = bars_and_stripes(3)
    rbm = RBM(input_shape=(9,), n_hidden=4)
    a = RBMObjective(RBMObjective.Config(k=2, persistent=True))
    a.loss(rbm, x)
    state = {k: v.clone() for k, v in a.state_dict().items()}
    assert state["chains"].shape == (14, 9)
    b = RBMObjective(RBMObjective.Config(k=2, persistent=True))
    b.load_state_dict(state)
    torch.manual_seed(5)
    la, _ = a.loss(rbm, x)
    torch.manual_seed(5)
    lb, _ = b.loss(rbm, x)
    torch.testing.assert_close(la, lb)
    torch.testing.assert_close(a.chains, b.chains)


# -- Hopfield networks ------------------------------------------------------------------------------


def random_patterns(p: int, n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 2, (p, n), generator=torch.Generator().manual_seed(seed)).float()


def test_energy_never_increases_under_asynchronous_updates() -> None:
    net = ClassicalHopfield(input_shape=(40,), seed=3)  # random symmetric couplings, zero diagonal
    s = spins(random_patterns(16, 40, seed=1))
    g = torch.Generator().manual_seed(0)
    for _sweep in range(3):  # unit by unit, in random orders
        for i in torch.randperm(40, generator=g).tolist():
            before = net.energy_of_spins(s)
            s[:, i] = torch.where(s @ net.W[i] - net.theta[i] >= 0, 1.0, -1.0)
            assert (net.energy_of_spins(s) <= before + 1e-5).all()
    # and the network's own async sweeps: energy non-increasing sweep after sweep, ending at a fixed point
    s = spins(random_patterns(16, 40, seed=2))
    energies = [net.energy_of_spins(s)]
    for _ in range(10):
        s, _ = net.run(s, mode="async", max_steps=1, generator=g)
        energies.append(net.energy_of_spins(s))
    assert all((b <= a + 1e-5).all() for a, b in zip(energies, energies[1:], strict=False))
    final, steps = net.run(s, mode="async", max_steps=50, generator=g)
    assert (steps < 50).all()  # every state settled: no unit changes in a sweep
    assert torch.equal(net.run(final, mode="async", max_steps=1, generator=g)[0], final)


@pytest.mark.parametrize("rule", ["hebbian", "pseudoinverse"])
def test_stored_patterns_are_fixed_points_below_capacity(rule: str) -> None:
    x = random_patterns(8, 400, seed=0)  # load P/N = 0.02, far below 0.138
    net = ClassicalHopfield(input_shape=(400,))
    net.store(x, rule=rule)
    xi = spins(x)
    for mode in ("sync", "async"):
        s, steps = net.run(xi, mode=mode, max_steps=5, generator=torch.Generator().manual_seed(0))
        assert torch.equal(s, xi) and (steps == 1).all()
    # 10% of the bits flipped: retrieved exactly
    s, _ = net.run(flip(xi, 0.1, torch.Generator().manual_seed(1)), max_steps=20, generator=torch.Generator())
    assert torch.equal(s, xi)


def test_pseudoinverse_stores_correlated_patterns_where_hebbian_fails() -> None:
    from sklearn.datasets import load_digits

    x = torch.from_numpy(load_digits().data[:20] > 8).float()  # (20, 64) correlated binary digits
    xi = spins(x)
    fixed = {}
    for rule in ("hebbian", "pseudoinverse"):
        net = ClassicalHopfield(input_shape=(64,))
        net.store(x, rule=rule)
        s, _ = net.run(xi, mode="sync", max_steps=1)
        fixed[rule] = float((s == xi).all(1).float().mean())
    assert fixed["pseudoinverse"] == 1.0 and fixed["hebbian"] < 0.5, fixed


def test_modern_update_is_softmax_attention() -> None:
    g = torch.Generator().manual_seed(0)
    X, xi, beta = torch.randn(30, 16, generator=g), torch.randn(5, 16, generator=g), 0.7
    expected = torch.softmax(beta * xi @ X.T, -1) @ X  # X^T softmax(beta X xi), batched
    torch.testing.assert_close(hopfield_update(xi, X, beta), expected)
    sdpa = F.scaled_dot_product_attention(xi[None], X[None], X[None], scale=beta)[0]
    torch.testing.assert_close(hopfield_update(xi, X, beta), sdpa)
    layer = HopfieldAttention(d_in=16, d_k=16, d_out=16, beta=beta)
    with torch.no_grad():
        for lin in (layer.W_Q, layer.W_K, layer.W_V):
            lin.weight.copy_(torch.eye(16))
    torch.testing.assert_close(layer(xi[None], X[None])[0], expected)


def test_modern_network_retrieves_from_half_masked_queries() -> None:
    x = random_patterns(500, 64, seed=4)
    net = ModernHopfield(input_shape=(64,), n_memories=500, beta=2.0)
    net.store(x)
    query = x.clone()
    query[:, 32:] = 0.5  # the second half unknown
    out = net(query)
    assert float(((out > 0.5).float() == x).all(1).float().mean()) > 0.95


# -- serving ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.serve import create_app
    from dlzoo.training import train_run

    root = tmp_path_factory.mktemp("energy-runs")
    for model in ("rbm", "hopfield"):
        train_run(
            resolve_config(model, preset="tiny", overrides=["train.progress=false"]), RunDir.create(root, model, "r")
        )
    with TestClient(create_app(root)) as c:
        yield c


def test_serving_answers_sample_energy_reconstruct_and_retrieve(client: TestClient) -> None:
    r = client.post("/v1/models/rbm/sample", json={"n": 3, "steps": 20, "seed": 1})
    assert r.status_code == 200 and r.json()["shape"] == [3, 1, 8, 8]
    again = client.post("/v1/models/rbm/sample", json={"n": 3, "steps": 20, "seed": 1})
    assert again.json()["samples"] == r.json()["samples"]
    x = (torch.arange(64) % 3 == 0).float().reshape(1, 8, 8).tolist()
    r = client.post("/v1/models/rbm/energy", json={"inputs": [x, x]})
    assert r.status_code == 200 and len(r.json()["free_energy"]) == 2
    r = client.post("/v1/models/rbm/reconstruct", json={"inputs": [x]})
    assert r.status_code == 200 and r.json()["shape"] == [1, 1, 8, 8]
    r = client.post("/v1/models/hopfield/retrieve", json={"inputs": [x], "max_steps": 10})
    body = r.json()
    assert r.status_code == 200 and set(body) >= {"patterns", "steps", "energy"}
    assert all(v in (0.0, 1.0) for row in body["patterns"][0][0] for v in row)


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("rbm/sample", {"n": 3, "steps": 10_000_000}, "less than or equal to 10000"),
        ("rbm/sample", {"n": 100, "steps": 5000}, "chain steps per request"),
        ("rbm/sample", {"n": 100_000}, "less than or equal to 256"),
        ("rbm/energy", {"inputs": [[0.5] * 64]}, "must be 0 or 1"),
        ("rbm/energy", {"inputs": [[1.0] * 63]}, "expected inputs of shape"),
        ("hopfield/retrieve", {"inputs": [[1.0] * 10]}, "expected inputs of shape"),
        ("hopfield/retrieve", {"inputs": [[0.3] * 64]}, "must be 0 or 1"),
        ("hopfield/retrieve", {"inputs": [[1.0] * 64], "max_steps": 10**6}, "less than or equal to 1000"),
    ],
)
def test_serving_refuses_absurd_or_wrong_requests_with_a_4xx(
    client: TestClient, path: str, body: dict, says: str
) -> None:
    r = client.post(f"/v1/models/{path}", json=body)
    assert 400 <= r.status_code < 500, r.text
    assert says in r.text, r.text


# -- Langevin EBM -------------------------------------------------------------------------------------


class Quadratic(torch.nn.Module):
    """E(x) = ||x||^2 / 2: p(x) = N(0, I)."""

    input_shape = (2,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.pow(2).sum(-1)


def test_langevin_samples_the_gaussian_of_a_quadratic_energy() -> None:
    from dlzoo.families.energy.ebm import langevin

    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4000, 2, generator=g) * 8 - 4
    # x <- x - lambda x + sigma eps has stationary variance sigma^2 / (1 - (1 - lambda)^2) = 1 here
    lam = 0.1
    x = langevin(
        Quadratic(), x0, steps=200, step_size=lam, noise=math.sqrt(1 - (1 - lam) ** 2), bounds=(-9, 9), generator=g
    )
    assert float(x.mean(0).abs().max()) < 0.08
    assert float((x.var(0) - 1).abs().max()) < 0.1


def test_langevin_objective_keeps_its_replay_buffer_in_the_state() -> None:
    from dlzoo.families.energy.ebm import EnergyMLP
    from dlzoo.families.energy.ebm_objective import LangevinObjective

    objective = LangevinObjective(LangevinObjective.Config(steps=3, buffer_size=50))
    model = EnergyMLP(input_shape=(2,), hidden=(8,))
    loss, logs = objective.loss(model, torch.randn(10, 2))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    state = objective.state_dict()
    assert state["buffer"].shape == (50, 2)
    other = LangevinObjective(LangevinObjective.Config(steps=3, buffer_size=50))
    other.load_state_dict(state)
    assert torch.equal(other.buffer, objective.buffer)


def test_pcd_run_interrupted_and_resumed_matches_an_uninterrupted_one(tmp_path, monkeypatch) -> None:
    """The persistent chains are in the checkpoint: a resumed PCD run continues the same chains."""
    import json

    from safetensors.torch import load_file

    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.training import train_run

    over = ["train.progress=false", "train.epochs=3", "task.persistent=true", "task.ais_chains=0"]
    ref = RunDir.create(tmp_path, "rbm", "ref")
    train_run(resolve_config("rbm", preset="tiny", overrides=over), ref)

    class Interrupted(Exception):
        pass

    calls = {"n": 0}
    original = RBMObjective.loss

    def failing(self, model, x):
        calls["n"] += 1
        if calls["n"] == 100:  # inside round 2 (72 steps a round)
            raise Interrupted
        return original(self, model, x)

    monkeypatch.setattr(RBMObjective, "loss", failing)
    run = RunDir.create(tmp_path, "rbm", "cut")
    with pytest.raises(Interrupted):
        train_run(resolve_config("rbm", preset="tiny", overrides=over), run)
    monkeypatch.setattr(RBMObjective, "loss", original)
    train_run(resolve_config("rbm", preset="tiny", overrides=over), run, resume=True)

    def rows(r: RunDir) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "time"} for row in r.read_metrics()]

    assert rows(run) == rows(ref)
    a, b = load_file(run.weights_path), load_file(ref.weights_path)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (
        json.loads(run.eval_path.read_text())["test/loglik_exact"]
        == json.loads(ref.eval_path.read_text())["test/loglik_exact"]
    )


def test_base_rate_init_makes_the_untrained_rbm_the_independent_pixel_model() -> None:
    """fit_standardizers (what the paradigms call before training) sets b = logit(pixel means): with
    W = 0 the RBM's log-likelihood is then the base-rate model's, exactly; "zero" leaves b at 0."""
    from dlzoo.layers import fit_standardizers

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(500, 12, generator=g) < torch.linspace(0.05, 0.9, 12)).float()
    rbm = RBM(input_shape=(12,), n_hidden=3)
    assert fit_standardizers(rbm, x) == 1
    torch.testing.assert_close(rbm.b, base_rate_bias(x).float())
    with torch.no_grad():
        rbm.W.zero_()
    loglik = float(-rbm.free_energy(x).mean() - log_z_exact(rbm, max_hidden=3))
    assert loglik == pytest.approx(float(base_rate_loglik(x, base_rate_bias(x)).mean()), abs=1e-4)
    zero = RBM(input_shape=(12,), n_hidden=3, init_visible="zero")
    fit_standardizers(zero, x)
    assert float(zero.b.abs().max()) == 0.0
    with pytest.raises(ValueError, match="init_visible"):
        RBM(input_shape=(12,), n_hidden=3, init_visible="mean")
