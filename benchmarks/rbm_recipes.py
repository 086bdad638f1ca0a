"""Which RBM training recipe reaches a high likelihood on binarized MNIST: a short plain loop per recipe.

    DLZOO_DATA=../shared/data python benchmarks/rbm_recipes.py 25 30 '[{"lr": 0.01, "pcd": true, "wc": 2e-4}]'

Trains on the first 50000 training images and reports, every ``--eval-every`` epochs, the log-likelihood
of the other 10000 (held out, not the test set) with log Z from AIS (100 chains, ``--ais-betas``
temperatures, seed 0: cheap enough to run often; the exact log Z of 25 units costs about 100 s).
Each recipe: ``lr`` (SGD, momentum ``mom``, default 0.9, cosine decay to 0 over the epochs), ``k``
(Gibbs sweeps), ``pcd`` (persistent chains, ``chains`` of them, default 100), ``wc`` (weight cost on W).
The lessons went into the ``mnist25`` / ``mnist500`` presets (README, Results); prints, records nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))

import torch  # noqa: E402

from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.families.energy.objective import RBMObjective, mean_neg_free_energy  # noqa: E402
from dlzoo.families.energy.partition import log_z_ais  # noqa: E402
from dlzoo.families.energy.rbm import RBM, base_rate_bias  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hidden", type=int)
    ap.add_argument("epochs", type=int)
    ap.add_argument("recipes", type=json.loads, help="a JSON list of recipes")
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument("--ais-betas", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = load_dataset("mnist", flatten=True, binarize="stochastic", binarize_seed=0).train.x.flatten(1)
    train, held_out = x[:50000], x[50000:]
    b_a = base_rate_bias(train)
    for recipe in args.recipes:
        torch.manual_seed(0)
        rbm = RBM(input_shape=(784,), n_hidden=args.hidden)
        rbm.init_from_data(train)
        pcd = recipe.get("pcd", False)
        objective = RBMObjective(
            RBMObjective.Config(
                k=recipe.get("k", 1),
                persistent=pcd,
                n_chains=recipe.get("chains", 100) if pcd else None,
                weight_cost=recipe.get("wc", 0.0),
            )
        )
        opt = torch.optim.SGD(rbm.parameters(), lr=recipe["lr"], momentum=recipe.get("mom", 0.9))
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
        order = torch.Generator().manual_seed(1)
        t0 = time.perf_counter()
        for epoch in range(1, args.epochs + 1):
            perm = torch.randperm(len(train), generator=order)
            for start in range(0, len(train), 100):
                loss, _ = objective.loss(rbm, train[perm[start : start + 100]])
                opt.zero_grad()
                loss.backward()
                opt.step()
            schedule.step()
            if epoch % args.eval_every == 0 or epoch == args.epochs:
                ais = log_z_ais(
                    rbm, b_a, n_chains=100, n_betas=args.ais_betas, generator=torch.Generator().manual_seed(0)
                )
                loglik = mean_neg_free_energy(rbm, held_out) - ais.log_z
                print(f"{recipe} epoch {epoch} ({time.perf_counter() - t0:.0f} s): held-out AIS {loglik:.2f}")


if __name__ == "__main__":
    main()
