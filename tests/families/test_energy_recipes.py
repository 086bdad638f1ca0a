"""The RBM training recipe's settings: weight cost on W only, keep-best by a validation log-likelihood."""

from __future__ import annotations

import torch

from dlzoo.families.energy.objective import RBMObjective
from dlzoo.families.energy.rbm import RBM


def grads(objective: RBMObjective, rbm: RBM, x: torch.Tensor) -> dict[str, torch.Tensor]:
    rbm.zero_grad()
    torch.manual_seed(3)  # the same negative particles for every call
    loss, _ = objective.loss(rbm, x)
    loss.backward()
    return {k: p.grad.clone() for k, p in rbm.named_parameters()}


def test_weight_cost_adds_weight_cost_times_w_to_the_weight_gradient_only() -> None:
    torch.manual_seed(0)
    rbm = RBM(input_shape=(9,), n_hidden=4, init_std=0.5)
    x = (torch.rand(16, 9) < 0.4).float()
    plain = grads(RBMObjective(RBMObjective.Config(k=1)), rbm, x)
    decayed = grads(RBMObjective(RBMObjective.Config(k=1, weight_cost=0.01)), rbm, x)
    torch.testing.assert_close(decayed["W"], plain["W"] + 0.01 * rbm.W.detach())
    assert not torch.allclose(decayed["W"], plain["W"])
    torch.testing.assert_close(decayed["b"], plain["b"])  # biases are not decayed
    torch.testing.assert_close(decayed["c"], plain["c"])


def test_keep_best_by_the_exact_validation_loglik_tests_and_saves_the_best_epoch(tmp_path) -> None:
    """The stopping rule of the RBM recipe is the loop's keep-best on ``val/loglik_exact``: the run's
    result is the epoch its monitor ranks first, not the last epoch. To tell the two apart on any CPU, the
    test ranks by ``min``: the likelihood rises from the base-rate start, so the kept epoch is an early
    one whatever the float rounding, and its weights differ from the last epoch's."""
    import json

    from safetensors.torch import load_file

    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.training import train_run

    over = [
        "train.progress=false",
        "train.epochs=6",
        "task.persistent=true",
        "task.ais_chains=0",
        "data.val_size=0.2",
        "train.keep_best={monitor: val/loglik_exact, mode: min}",
    ]
    run = RunDir.create(tmp_path, "rbm", "best")
    result = train_run(resolve_config("rbm", preset="tiny", overrides=over), run)
    vals = {row["round"]: row["val/loglik_exact"] for row in run.read_metrics() if "val/loglik_exact" in row}
    assert sorted(vals) == list(range(6))
    best = min(vals, key=vals.get)
    assert best < 5 and vals[best] < vals[5] - 0.5, vals  # otherwise keep-best and the last epoch look alike
    selection = json.loads(run.eval_path.read_text())["selection"]
    assert selection["kept_round"] == best
    # the saved (and tested) weights are that epoch's, not the last epoch's (still in the checkpoint)
    saved, last = load_file(run.weights_path), run.load_checkpoint()["model"]
    assert not torch.equal(saved["W"], last["W"])
    assert result["test/loglik_exact"] < 0
