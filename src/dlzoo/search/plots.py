"""A study's figures from Optuna's matplotlib visualisation, saved beside the study."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState


def save_plots(study: optuna.Study, out_dir: str | Path) -> list[Path]:
    """history.png (best value against trials), parallel_coordinates.png, importances.png (fANOVA);
    a figure that needs more trials than the study has is skipped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    figures = {"history": ovm.plot_optimization_history}
    if len(complete) >= 2:
        figures["parallel_coordinates"] = ovm.plot_parallel_coordinate
        figures["importances"] = ovm.plot_param_importances
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna marks its matplotlib backend experimental
        for name, plot in figures.items():
            try:
                ax = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError):  # e.g. importances of a constant parameter
                continue
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            fig.set_size_inches(8, 5)
            fig.tight_layout()
            path = out_dir / f"{name}.png"
            fig.savefig(path, dpi=100)
            plt.close(fig)
            written.append(path)
    return written
