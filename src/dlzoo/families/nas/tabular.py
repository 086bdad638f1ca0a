"""A tabular benchmark (every cell of a space trained once per seed, as NAS-Bench-201 does) and the
simulator that runs a search strategy against it in seconds, on an in-memory Optuna study.

Table (JSON): ``{"space": {...}, "epochs": E, "seeds": [...], "made_with": {...},
"cells": {genotype: {"val": [[acc per epoch] per seed], "test": [acc per seed], "params": n}}}``.

A query of a cell returns its validation accuracy averaged over the seeds (deterministic, so a
simulation replays the table exactly); with a pruner, the averaged per-epoch curve is reported epoch
by epoch and a pruned query costs only the epochs it ran.

Regret after b evaluations: the best mean test accuracy in the table minus the mean test accuracy of
the incumbent, the cell with the best validation accuracy among the first b queries
(search on validation, report test: the NAS-Bench-201 protocol).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from dlzoo.families.nas.space import SearchSpace
from dlzoo.families.nas.strategies import make_pruner, make_sampler

DATA_DIR = Path(__file__).parent / "data"


@dataclass
class Table:
    """Per cell: mean val curve over seeds, mean final val and mean test accuracy."""

    space: SearchSpace
    epochs: int
    val_curve: dict[str, np.ndarray]  # genotype -> (E,) mean val accuracy per epoch
    val: dict[str, float]  # genotype -> mean final val accuracy
    test: dict[str, float]  # genotype -> mean test accuracy
    raw: dict[str, Any]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Table:
        space = SearchSpace.from_dict(raw["space"], name=raw["space"].get("name", "table"))
        curves = {g: np.asarray(c["val"], dtype=float).mean(axis=0) for g, c in raw["cells"].items()}
        val = {g: float(c[-1]) for g, c in curves.items()}
        test = {g: float(np.mean(c["test"])) for g, c in raw["cells"].items()}
        return cls(space, int(raw["epochs"]), curves, val, test, raw)

    @classmethod
    def load(cls, path: str | Path = DATA_DIR / "digits_cells.json") -> Table:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def genotype(self, params: dict[str, Any]) -> str:
        return self.space.overrides(params)["model.genotype"]

    @property
    def best_test(self) -> float:
        return max(self.test.values())


def simulate(
    table: Table,
    strategy: str,
    *,
    budget: int,
    seed: int,
    pruner: str = "none",
    population: int = 10,
    sample_size: int = 3,
) -> dict[str, Any]:
    """One search of ``budget`` full-training equivalents on the table.

    Returns ``{"trials": [(genotype, val, cost)], "regret": (budget,) regret after each unit of budget}``.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = table.space
    sampler = make_sampler(strategy, space.distributions, seed=seed, population=population, sample_size=sample_size)
    study = optuna.create_study(
        direction="maximize", sampler=sampler, pruner=make_pruner(pruner, max_resource=table.epochs)
    )
    trials: list[tuple[str, float, float]] = []
    spent = 0.0

    def objective(trial: optuna.Trial) -> float:
        nonlocal spent
        g = table.genotype(space.suggest(trial))
        if pruner == "none":
            spent += 1.0
            trials.append((g, table.val[g], 1.0))
            return table.val[g]
        curve = table.val_curve[g]
        for e, acc in enumerate(curve, start=1):
            trial.report(float(acc), e)
            if e < table.epochs and trial.should_prune():
                spent += e / table.epochs
                trials.append((g, float(acc), e / table.epochs))
                raise optuna.TrialPruned()
        spent += 1.0
        trials.append((g, float(curve[-1]), 1.0))
        return float(curve[-1])

    while spent < budget:
        study.optimize(objective, n_trials=1)
    return {"trials": trials, "regret": regret_curve(table, trials, budget)}


def regret_curve(table: Table, trials: list[tuple[str, float, float]], budget: int) -> np.ndarray:
    """Regret after 1..budget units of cost; the incumbent is the best fully trained query so far
    (a pruned query's partial validation accuracy never makes it the incumbent)."""
    out = np.full(budget, np.nan)
    best_val, inc, spent = -np.inf, None, 0.0
    k = 0
    for g, val, cost in trials:
        spent += cost
        if cost >= 1.0 and val > best_val:
            best_val, inc = val, g
        while k < budget and spent >= k + 1 - 1e-9:
            out[k] = table.best_test - table.test[inc] if inc is not None else np.nan
            k += 1
    return out


def random_seeds(n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(2**31) for _ in range(n)]
