"""``dlzoo nas run | export | show | plots``: architecture search from the shell (imports optuna per command)."""

from __future__ import annotations

from pathlib import Path

import typer

nas_app = typer.Typer(
    no_args_is_help=True,
    help="neural architecture search on Optuna: run a study, show it, plot it, export its best config.",
)

STORAGE_HELP = "study storage URL: sqlite:///FILE.db, postgresql://USER@HOST/DB, journal:FILE (default: DIR/studies.db)"


@nas_app.command("run")
def run_cmd(
    space: str = typer.Argument(..., help="a search space YAML file, or a bundled one: cell_digits, mlp_digits, ..."),
    study: str | None = typer.Option(None, help="study name (default: the space's name)"),
    strategy: str = typer.Option("tpe", help="random | evolution | tpe | local"),
    pruner: str = typer.Option("none", help="none | median | sha | hyperband (multi-fidelity on validation rounds)"),
    trials: int = typer.Option(20, min=1, help="stop when the study holds this many finished trials"),
    timeout: float | None = typer.Option(None, help="stop starting trials after this many seconds"),
    storage: str | None = typer.Option(None, help=STORAGE_HELP),
    root: Path = typer.Option(Path("nas"), "--dir", help="folder of the default storage, trial runs and plots"),
    seed: int | None = typer.Option(None, help="sampler seed"),
    population: int = typer.Option(20, min=1, help="evolution: population size (oldest dies)"),
    sample_size: int = typer.Option(5, min=1, help="evolution: tournament size"),
) -> None:
    """Run a search (or resume it, or join it as one more worker: same --study and --storage)."""
    from dlzoo.families.nas.space import SearchSpace
    from dlzoo.search.driver import run_search
    from dlzoo.search.plots import save_plots

    sp = SearchSpace.load(space)
    name = study or sp.name
    try:
        result = run_search(
            sp,
            study_name=name,
            storage_url=storage,
            root=root,
            strategy=strategy,
            pruner=pruner,
            n_trials=trials,
            timeout_s=timeout,
            seed=seed,
            population=population,
            sample_size=sample_size,
        )
    except ValueError as e:  # a strategy/pruner choice, evolution sizes
        from dlzoo.search.study import SearchError

        raise SearchError(str(e)) from None
    save_plots(result, root / name / "plots")
    _print_summary(result)


def _print_summary(study) -> None:  # noqa: ANN001
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    counts = ", ".join(f"{s.name.lower()} {states.count(s)}" for s in TrialState if states.count(s))
    print(f"study {study.study_name}: {counts}")
    if any(s == TrialState.COMPLETE for s in states):
        best = study.best_trial
        print(f"best trial {best.number}: value {best.value:.4f} {best.user_attrs.get('overrides', best.params)}")


@nas_app.command("show")
def show_cmd(
    study: str = typer.Argument(..., help="study name"),
    storage: str | None = typer.Option(None, help=STORAGE_HELP),
    root: Path = typer.Option(Path("nas"), "--dir", help="folder of the default storage"),
) -> None:
    """Print every trial of a study: number, state, value, parameters."""
    from dlzoo.search.driver import open_study

    s = open_study(study, storage_url=storage, root=root)
    for t in s.get_trials(deepcopy=False):
        value = f"{t.value:.4f}" if t.value is not None else "-"
        print(f"{t.number:4d} {t.state.name.lower():8s} {value:>7s} {t.params}")
    _print_summary(s)


@nas_app.command("plots")
def plots_cmd(
    study: str = typer.Argument(..., help="study name"),
    storage: str | None = typer.Option(None, help=STORAGE_HELP),
    root: Path = typer.Option(Path("nas"), "--dir", help="folder of the default storage; plots go to DIR/STUDY/plots"),
) -> None:
    """Optuna's optimisation history, parallel coordinates and parameter importances as PNG files."""
    from dlzoo.search.driver import open_study
    from dlzoo.search.plots import save_plots

    for path in save_plots(open_study(study, storage_url=storage, root=root), root / study / "plots"):
        print(path)


@nas_app.command("export")
def export_cmd(
    study: str = typer.Argument(..., help="study name"),
    out: Path | None = typer.Option(None, "--out", "-o", help="config file to write (default: DIR/STUDY/best.yaml)"),
    storage: str | None = typer.Option(None, help=STORAGE_HELP),
    root: Path = typer.Option(Path("nas"), "--dir", help="folder of the default storage"),
) -> None:
    """Write the best trial as a config for `dlzoo train --config FILE`."""
    from dlzoo.search.driver import export_best, open_study

    path = export_best(open_study(study, storage_url=storage, root=root), out or root / study / "best.yaml")
    print(f"wrote {path}; train it with: dlzoo train --config {path}")
