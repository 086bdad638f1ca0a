"""The search loop: an Optuna study whose trials train registered models through dlzoo's loop.

Every trial's parameters, overrides, run directory, validation curve and test metrics live in the
study (``trial.params``, ``trial.user_attrs``), so the study is the whole record of a search: it can be
resumed, shared by workers, plotted (plots.py) and exported (``export_best``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from dlzoo.families.nas.space import SearchSpace
from dlzoo.families.nas.strategies import make_pruner, make_sampler
from dlzoo.search.study import GRACE_S, HEARTBEAT_S, SearchError, default_storage, load_study, open_storage

#: evaluate(trial, overrides) -> the metric to optimize; the default trains through the loop
Evaluate = Callable[[optuna.Trial, dict[str, Any]], float]


def train_trial(space: SearchSpace, root: Path, study_name: str) -> Evaluate:
    """Train the trial's config with dlzoo's loop into ``root/runs/<model>/<study>-t<number>/``; report
    the validation metric after every evaluation to the pruner (multi-fidelity)."""

    def evaluate(trial: optuna.Trial, overrides: dict[str, Any]) -> float:
        from dlzoo.config import resolve_config
        from dlzoo.runs import RunDir
        from dlzoo.training.loop import train_run

        items = [f"{k}={json.dumps(v)}" for k, v in overrides.items()]
        cfg = resolve_config(space.model, preset=space.preset, overrides=items)
        cfg.train.progress = False
        run = RunDir.create(root / "runs", space.model, f"{study_name}-t{trial.number:04d}")
        curve: list[float] = []

        def on_eval(r: int, val: dict[str, float]) -> None:
            if space.metric not in val:
                raise SearchError(f"{space.name}: metric {space.metric!r} not logged; logged: {', '.join(val)}")
            curve.append(float(val[space.metric]))
            trial.report(curve[-1], r + 1)
            if trial.should_prune():
                trial.set_user_attr("val_curve", curve)
                raise optuna.TrialPruned(f"pruned after round {r + 1}")

        result = train_run(cfg, run, on_eval=on_eval)
        if not curve:
            raise SearchError(
                f"{space.name}: {space.metric!r} was never logged; give the data a val split (data.val_size)"
            )
        trial.set_user_attr("run", str(run.path))
        trial.set_user_attr("val_curve", curve)
        for k, v in result.items():
            if k.startswith("test/") and isinstance(v, (int, float)):
                trial.set_user_attr(k, v)
        trial.set_user_attr("wall_time_s", result.get("wall_time_s"))
        return curve[-1]

    return evaluate


def create_or_load(
    space: SearchSpace,
    *,
    study_name: str,
    storage_url: str,
    strategy: str,
    pruner: str = "none",
    seed: int | None = None,
    population: int = 20,
    sample_size: int = 5,
    heartbeat_s: int = HEARTBEAT_S,
    grace_s: int = GRACE_S,
) -> optuna.Study:
    """The study ``study_name``: created with the space recorded in it, or loaded (same space only)."""
    storage = open_storage(storage_url, heartbeat_s=heartbeat_s, grace_s=grace_s)
    sampler = make_sampler(strategy, space.distributions, seed=seed, population=population, sample_size=sample_size)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=sampler,
        pruner=make_pruner(pruner),
        direction=space.direction,
        load_if_exists=True,
    )
    recorded = study.user_attrs.get("space")
    if recorded is None:
        study.set_user_attr("space", space.to_dict())
        study.set_user_attr("strategy", strategy)
    elif recorded != json.loads(json.dumps(space.to_dict())):
        raise SearchError(
            f"study {study_name!r} in {storage_url} was made with another search space ({recorded.get('name')!r}); "
            "give a new --study name"
        )
    return study


def run_search(
    space: SearchSpace,
    *,
    study_name: str,
    storage_url: str | None = None,
    root: str | Path = "nas",
    strategy: str = "tpe",
    pruner: str = "none",
    n_trials: int = 20,
    timeout_s: float | None = None,
    seed: int | None = None,
    population: int = 20,
    sample_size: int = 5,
    evaluate: Evaluate | None = None,
    heartbeat_s: int = HEARTBEAT_S,
    grace_s: int = GRACE_S,
) -> optuna.Study:
    """Run (or resume, or join) a search until the study holds ``n_trials`` finished trials.

    Finished = complete or pruned; a trial whose worker died is failed by the heartbeat and re-queued,
    so rerunning the same command after an interruption continues where the study stopped.
    """
    root = Path(root)
    url = storage_url or default_storage(root)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    study = create_or_load(
        space,
        study_name=study_name,
        storage_url=url,
        strategy=strategy,
        pruner=pruner,
        seed=seed,
        population=population,
        sample_size=sample_size,
        heartbeat_s=heartbeat_s,
        grace_s=grace_s,
    )
    evaluate = evaluate or train_trial(space, root, study_name)

    def objective(trial: optuna.Trial) -> float:
        params = space.suggest(trial)
        overrides = space.overrides(params)
        trial.set_user_attr("overrides", overrides)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if t.params == params:  # this config was trained already: its result, not a second training
                trial.set_user_attr("reused_from", t.number)
                for k, v in t.user_attrs.items():
                    if k.startswith("test/") or k in ("run", "val_curve"):
                        trial.set_user_attr(k, v)
                return float(t.value)
        return float(evaluate(trial, overrides))

    done = (TrialState.COMPLETE, TrialState.PRUNED)
    stop = optuna.study.MaxTrialsCallback(n_trials, states=done)
    if len(study.get_trials(deepcopy=False, states=done)) < n_trials:
        study.optimize(objective, n_trials=n_trials, timeout=timeout_s, callbacks=[stop], catch=())
    return study


def open_study(study_name: str, *, storage_url: str | None = None, root: str | Path = "nas") -> optuna.Study:
    url = storage_url or default_storage(root)
    return load_study(study_name, open_storage(url), url)


def best_config(study: optuna.Study) -> dict[str, Any]:
    """The best complete trial as a run config (preset merged with its overrides)."""
    if "space" not in study.user_attrs:
        raise SearchError(f"study {study.study_name!r} was not made by `dlzoo nas run` (no search space recorded)")
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise SearchError(f"study {study.study_name!r} has no complete trial yet")
    space = SearchSpace.from_dict(study.user_attrs["space"])
    best = study.best_trial
    raw = space.raw_config(best.params)
    raw["info"] = {
        "nas": {
            "study": study.study_name,
            "trial": best.number,
            space.metric: best.value,
            "strategy": study.user_attrs.get("strategy"),
        }
    }
    return raw


def export_best(study: optuna.Study, out: str | Path) -> Path:
    """Write the best trial as a YAML config that ``dlzoo train --config FILE`` takes."""
    from dlzoo.config import validate_run_config

    raw = best_config(study)
    validate_run_config(raw, source=f"study {study.study_name!r}")  # the file trains, or nothing is written
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# best trial {raw['info']['nas']['trial']} of study {study.study_name!r}: dlzoo train --config {out}\n"
    out.write_text(header + yaml.safe_dump(raw, sort_keys=False))
    return out
