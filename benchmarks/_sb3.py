"""What the RL benchmarks that run ours beside Stable-Baselines3 share: the per-side summary of the
runs (final returns, IQM, wall times) and the SB3 baseline entry of the record."""

from __future__ import annotations

from typing import Any

from _record import mean_sd

from dlzoo.metrics import episodic_return_stats


def summary(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Final returns and wall times of ``runs`` ({"final", "wall_time_s"} each), with mean, sd and IQM; printed."""
    finals = [r["final"] for r in runs]
    walls = [r["wall_time_s"] for r in runs]
    out = {"finals": finals, "walls": walls, "iqm": episodic_return_stats(finals)["return_iqm"]}
    out["mean"], out["sd"] = mean_sd(finals)
    out["wall_mean"], out["wall_sd"] = mean_sd(walls)
    print(
        f"{name:>10}: return {out['mean']:7.1f} ± {out['sd']:5.1f} (IQM {out['iqm']:.1f}) "
        f"{[round(v, 1) for v in finals]}  wall {out['wall_mean']:6.1f} ± {out['wall_sd']:5.1f} s "
        f"{[round(w, 1) for w in walls]}",
        flush=True,
    )
    return out


def sb3_baseline(version: str, algo: str, s: dict[str, Any]) -> dict[str, Any]:
    """The record's baseline entry for SB3's ``algo`` summarised by ``summary``."""
    return {
        "name": f"stable-baselines3 {version} {algo.upper()}, same hyperparameters, measured here",
        "value": s["mean"],
        "sd": s["sd"],
        "values": s["finals"],
        "iqm": s["iqm"],
        "wall_time_s": s["wall_mean"],
        "wall_times_s": s["walls"],
    }
