"""The collapse study: BYOL without its predictor or with the EMA momentum at 0, SimSiam without its
stop-gradient, beside the intact methods; the effective-rank curve (RankMe, logged while training) shows
which collapse.

    python benchmarks/ssl_collapse.py                  # 8x8 digits, the default preset, minutes
    python benchmarks/ssl_collapse.py --smoke          # seconds, records nothing

Every variant trains the ``default`` preset (8x8 digits, ConvEncoder 32-64, the same views, Adam 2e-3
with a cosine schedule, batch 256) for ``--epochs`` epochs with seed 0; ``train/effective_rank`` is
RankMe of one view's 256 embeddings, logged every 5 steps; the test metrics are the paradigm's final
evaluation (effective rank of the 360 test embeddings, 20-NN accuracy).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import RESULTS, record  # noqa: E402

from dlzoo.config import resolve_config  # noqa: E402
from dlzoo.runs import RunDir, default_run_name  # noqa: E402
from dlzoo.training import train_run  # noqa: E402

VARIANTS = {
    "byol": ("byol", []),
    "byol, no predictor": ("byol", ["model.pred_hidden=0"]),
    "byol, momentum 0": ("byol", ["task.momentum=0.0"]),
    "simsiam": ("simsiam", []),
    "simsiam, no stop-gradient": ("simsiam", ["task.stop_gradient=false"]),
    "simclr": ("simclr", []),
}
SPLIT = "scikit-learn digits, stratified 80/20 (split_seed 0), val = 20% of train; test: 360 images"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", default="/tmp/dlzoo-ssl-collapse-runs")
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args()
    epochs = 2 if args.smoke else args.epochs
    curves, finals = {}, {}
    for label, (model, extra) in VARIANTS.items():
        overrides = [f"train.epochs={epochs}", f"train.seed={args.seed}", "train.progress=false", "task.rank_every=5"]
        cfg = resolve_config(model, preset="default", overrides=[*overrides, *extra])
        run = RunDir.create(Path(args.runs), model, default_run_name())
        result = train_run(cfg, run)
        rows = [r for r in run.read_metrics() if "train/effective_rank" in r]
        curves[label] = [(r["step"], r["train/effective_rank"]) for r in rows]
        finals[label] = {k: v for k, v in result.items() if k.startswith("test/")}
        finals[label]["wall_time_s"] = result["wall_time_s"]
        print(label, {k: round(v, 4) for k, v in finals[label].items()}, flush=True)
    if args.smoke:
        return
    out = RESULTS / "figures" / "ssl"
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, pts in curves.items():
        ax.plot(
            [s for s, _ in pts], [r for _, r in pts], label=label, ls="--" if "no " in label or " 0" in label else "-"
        )
    ax.set(xlabel="step", ylabel="effective rank (RankMe) of a batch", yscale="log", title="collapse on 8x8 digits")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "collapse-rank.png", dpi=120)
    (out / "collapse.json").write_text(json.dumps({"curves": curves, "finals": finals}, indent=1))
    for label, m in finals.items():
        model = VARIANTS[label][0]
        record(
            "ssl_collapse",
            key=label.replace(", ", "-").replace(" ", "_"),
            model=model,
            family="ssl",
            dataset="digits_images",
            metric="test/effective_rank",
            values=[m["test/effective_rank"]],
            seeds=[args.seed],
            wall_time_s=m["wall_time_s"],
            split=SPLIT,
            extra={"variant": label, "metrics": m, "overrides": VARIANTS[label][1]},
            notes=f"{epochs} epochs of the default preset, fp32; the curve: figures/ssl/collapse-rank.png",
        )


if __name__ == "__main__":
    main()
