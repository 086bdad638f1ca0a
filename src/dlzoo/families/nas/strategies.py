"""Search strategies, all as Optuna samplers, so every strategy runs in a study (any storage, many workers).

- random: ``optuna.samplers.RandomSampler`` (Bergstra & Bengio 2012).
- tpe: ``optuna.samplers.TPESampler`` (Bergstra et al. 2011), the Bayesian optimisation of Optuna.
- evolution: regularised (aging) evolution, Real et al. 2019, Algorithm 1, below.
- local: local search with random restarts, White et al. 2021 ("Exploring the loss landscape in NAS").
Multi-fidelity (successive halving, Hyperband; with TPE that is BOHB's idea) is Optuna's pruners:
``make_pruner``. Both samplers below are stateless: they rebuild their state from the study's finished
trials each time, so several workers, a resumed study and a retried trial all see the same algorithm.
"""

from __future__ import annotations

import random
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from dlzoo.registry import choices_error

STRATEGIES = ("random", "evolution", "tpe", "local")
PRUNERS = ("none", "median", "sha", "hyperband")


def _key(params: dict[str, Any], names: list[str]) -> tuple[Any, ...]:
    return tuple(params.get(n) for n in names)


def _sample(dist: BaseDistribution, rng: random.Random) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return rng.choice(dist.choices)
    log, low, high = getattr(dist, "log", False), dist.low, dist.high  # type: ignore[attr-defined]
    if log:
        import math

        v = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        v = rng.uniform(low, high)
    return int(round(v)) if isinstance(dist, optuna.distributions.IntDistribution) else v


def mutate(params: dict[str, Any], space: dict[str, BaseDistribution], rng: random.Random) -> dict[str, Any]:
    """Change exactly one choice (Real et al. 2019: "one random modification"): a parameter drawn
    uniformly gets another value; a categorical one never keeps its value."""
    mutable = [k for k, d in space.items() if not isinstance(d, CategoricalDistribution) or len(d.choices) > 1]
    if not mutable:
        return dict(params)
    key = rng.choice(mutable)
    child = dict(params)
    dist = space[key]
    if isinstance(dist, CategoricalDistribution):
        child[key] = rng.choice([c for c in dist.choices if c != params[key]])
    else:
        new = params[key]
        for _ in range(100):  # a continuous value: redraw until it differs
            new = _sample(dist, rng)
            if new != params[key]:
                break
        child[key] = new
    return child


def neighbours(params: dict[str, Any], space: dict[str, CategoricalDistribution]) -> list[dict[str, Any]]:
    """Every config that differs from ``params`` in exactly one categorical choice."""
    out = []
    for key, dist in space.items():
        for c in dist.choices:
            if c != params[key]:
                out.append({**params, key: c})
    return out


class _HistorySampler(optuna.samplers.BaseSampler):
    """A sampler that proposes a whole config from the finished trials; the rest of Optuna's API is plumbing."""

    def __init__(self, space: dict[str, BaseDistribution], *, seed: int | None = None) -> None:
        self.space = dict(space)
        self._rng = random.Random(seed)
        self._random = optuna.samplers.RandomSampler(seed=seed)

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._random.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self.space

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def _finished(self, study: optuna.Study) -> list[FrozenTrial]:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return sorted((t for t in trials if all(k in t.params for k in self.space)), key=lambda t: t.number)

    def _sign(self, study: optuna.Study) -> float:
        return 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0


class RegularizedEvolutionSampler(_HistorySampler):
    """Aging evolution (Real et al. 2019, Algorithm 1).

    population: the ``population`` most recent finished trials (the oldest dies as each child is born);
    until that many exist, configs are drawn at random. Each new trial: draw ``sample_size`` members at
    random, take the best as parent, child = mutate(parent) (exactly one choice changed).
    """

    def __init__(
        self, space: dict[str, BaseDistribution], *, population: int = 20, sample_size: int = 5, seed: int | None = None
    ) -> None:
        super().__init__(space, seed=seed)
        if population < 1 or not 1 <= sample_size <= population:
            raise ValueError(
                f"evolution needs population >= 1 and 1 <= sample_size <= population, got {population}, {sample_size}"
            )
        self.population, self.sample_size = population, sample_size

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        done = self._finished(study)
        if len(done) < self.population:
            return {k: _sample(d, self._rng) for k, d in self.space.items()}
        alive = done[-self.population :]  # aging: the most recent `population` members
        sign = self._sign(study)
        parent = max(self._rng.sample(alive, self.sample_size), key=lambda t: sign * t.value)
        return mutate({k: parent.params[k] for k in self.space}, self.space, self._rng)


class LocalSearchSampler(_HistorySampler):
    """Local search with random restarts (White et al. 2021, Algorithm 1), categorical spaces only.

    Start from a random config; evaluate every neighbour (one choice changed) of the current config;
    if the best neighbour beats it, move there and repeat, else restart from a random unevaluated config.
    The walk is replayed from the finished trials in order, so it survives restarts and workers.
    """

    def __init__(self, space: dict[str, BaseDistribution], *, seed: int | None = None) -> None:
        bad = [k for k, d in space.items() if not isinstance(d, CategoricalDistribution)]
        if bad:
            raise ValueError(f"local search needs categorical parameters only; {bad} are ranges")
        super().__init__(space, seed=seed)
        self.names = list(space)

    def _advance(self, current: tuple | None, seen: dict[tuple, float]) -> tuple | None:
        """Move the walk while the current config's neighbourhood is fully evaluated; None = restart."""
        while current is not None:
            nbrs = [_key(n, self.names) for n in neighbours(dict(zip(self.names, current, strict=True)), self.space)]
            if any(n not in seen for n in nbrs):
                return current
            best = max(nbrs, key=seen.__getitem__) if nbrs else current
            current = best if nbrs and seen[best] > seen[current] else None
        return None

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        sign = self._sign(study)
        seen: dict[tuple, float] = {}
        current = None
        for t in self._finished(study):
            k = _key(t.params, self.names)
            seen.setdefault(k, sign * t.value)
            if current is None:
                current = k  # a (re)start point
            current = self._advance(current, seen)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
        busy = set(seen) | {_key(t.params, self.names) for t in running if t.number != trial.number}
        if current is not None:
            todo = [
                n
                for n in neighbours(dict(zip(self.names, current, strict=True)), self.space)
                if _key(n, self.names) not in busy
            ]
            if todo:
                return self._rng.choice(todo)
        for _ in range(1000):  # restart: a random config nobody has evaluated
            cand = {k: self._rng.choice(d.choices) for k, d in self.space.items()}  # type: ignore[attr-defined]
            if _key(cand, self.names) not in busy:
                return cand
        return {k: self._rng.choice(d.choices) for k, d in self.space.items()}  # type: ignore[attr-defined]


def make_sampler(
    strategy: str,
    space: dict[str, BaseDistribution],
    *,
    seed: int | None = None,
    population: int = 20,
    sample_size: int = 5,
) -> optuna.samplers.BaseSampler:
    """The Optuna sampler of a strategy name (STRATEGIES)."""
    if strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if strategy == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10)
    if strategy == "evolution":
        return RegularizedEvolutionSampler(space, population=population, sample_size=sample_size, seed=seed)
    if strategy == "local":
        return LocalSearchSampler(space, seed=seed)
    raise ValueError(choices_error("strategy", strategy, STRATEGIES))


def make_pruner(name: str, *, min_resource: int = 1, max_resource: int | str = "auto") -> optuna.pruners.BasePruner:
    """Multi-fidelity through Optuna's pruners: successive halving, Hyperband (Li et al. 2018), median stopping."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=min_resource)
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=min_resource, max_resource=max_resource, reduction_factor=3)
    raise ValueError(choices_error("pruner", name, PRUNERS))
