"""The one training loop: rounds of a paradigm's steps, logging, evaluation, checkpoints, artifacts.

    for round in rounds:                       # epochs, or periods of environment steps
        for logs in task.train_round(round):   # one optimizer (or environment) step each
            average logs over log_every steps -> metrics.jsonl
        task.evaluate("val") every eval_every rounds
        train.early_stop / train.keep_best checks (training/selection.py): stop early, remember the best
        atomic checkpoint every checkpoint_every rounds (model, task state, RNG, step, wall time)
    keep_best: load the kept round's weights
    task.evaluate("test", final=True) -> eval.json (+ "selection": which round, why)
    model.safetensors; card.md; plots/

A logged training loss that is NaN or infinite stops the run with ``TrainingDiverged`` before the
round's checkpoint is written, so ``checkpoints/last.ckpt`` still holds the last good round.

Distribution is Lightning Fabric's: ``train.devices=2 train.strategy=ddp`` re-launches this command
once per extra process (or run under ``torchrun``/``fabric run`` for many nodes). Rank 0 alone writes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
import time
from typing import TYPE_CHECKING, Any


from dlzoo.config import RunConfig
from dlzoo.registry import get_spec
from dlzoo.hardware import hardware, resolve_precision
from dlzoo.runs import RunDir, RunError, RunExistsError, TrainingDiverged
from dlzoo.tasks import make_task
from dlzoo.tasks.base import Context
from dlzoo.training.allocator import retain_freed_memory
from dlzoo.training.card import write_card
from dlzoo.training.logger import MetricsLogger, progress_bar
from dlzoo.training.selection import Selection

if TYPE_CHECKING:  # Fabric costs seconds to import: a run imports it when it starts (make_fabric)
    from lightning_fabric import Fabric
from dlzoo.training.seeding import rng_state, set_rng_state
from dlzoo.training.threads import choose_threads


def make_fabric(cfg: RunConfig) -> Fabric:
    from lightning_fabric import Fabric

    t = cfg.train
    precision = resolve_precision(t.precision, t.accelerator)
    cfg.info["precision"] = precision  # what ran, for train.precision=auto (config.yaml, the card)
    return Fabric(
        accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=t.strategy, precision=precision
    )


def train_run(
    cfg: RunConfig,
    run: RunDir,
    *,
    resume: bool = False,
    fabric: Fabric | None = None,
    on_eval: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` into ``run``; with ``resume`` continue from its last checkpoint. Returns eval.json.

    torch's thread count is set from ``train.threads`` for the run and restored afterwards.
    ``on_eval(round, val_metrics)`` is called after each validation (a search reports to its pruner
    there; an exception it raises, e.g. ``optuna.TrialPruned``, ends the run)."""
    import torch

    threads_before = torch.get_num_threads()
    try:
        return _train_run(cfg, run, resume=resume, fabric=fabric, on_eval=on_eval)
    finally:
        torch.set_num_threads(threads_before)


def _train_run(
    cfg: RunConfig,
    run: RunDir,
    *,
    resume: bool,
    fabric: Fabric | None,
    on_eval: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    fabric = fabric or make_fabric(cfg)
    fabric.launch()
    rank0 = fabric.global_rank == 0
    # opt-in (train.retain_freed_memory): CPU steps free and re-allocate the same tensors each time;
    # keep the memory instead of faulting fresh pages in (training/allocator.py)
    retained = cfg.train.retain_freed_memory and fabric.device.type == "cpu" and retain_freed_memory()
    state = run.load_checkpoint() if resume else None
    if rank0 and state is None and run.metrics_path.exists() and not resume:
        raise RunExistsError(f"{run.path} already holds a run; pass --resume to continue it or --name for a new one")
    if rank0:
        run.remove_stale_temp_files()  # a kill mid-write leaves .<file>.<random> next to the file
    fabric.seed_everything(cfg.train.seed, workers=True, verbose=False)

    spec = get_spec(cfg.model_name)
    task = make_task(Context(spec, cfg, fabric))
    task.setup()
    selection = Selection(cfg.train)
    set_threads(cfg, task.model, local_processes=max(1, fabric.world_size // cfg.train.num_nodes))
    start_round, step, wall_before = 0, 0, 0.0
    if state is not None:
        try:
            task.model.load_state_dict(state["model"])
            task.load_state_dict(state["task"])
            selection.load_state_dict(state.get("selection") or {})
        except (RuntimeError, ValueError, KeyError) as e:  # torch lists every mismatched tensor: keep the first
            first = str(e).strip().splitlines()
            why = next((line.strip() for line in first[1:] if line.strip()), first[0] if first else type(e).__name__)
            raise RunError(
                f"{run.checkpoint_path}: the checkpoint does not match the model of config.yaml ({why}); resume "
                f"with the config it was trained with, or start a new run with a new --name"
            ) from None
        set_rng_state(state["rng"])
        start_round, step, wall_before = int(state["round"]) + 1, int(state["step"]), float(state["wall_time_s"])
        if rank0:
            run.truncate_metrics(through_round=start_round - 1)
    elif resume and rank0 and run.metrics_path.exists():
        run.truncate_metrics(through_round=-1)  # killed before the first checkpoint: start over, clean
    if rank0:
        run.write_config(cfg)
    reduce = (lambda row: fabric.all_reduce(row, reduce_op="mean")) if fabric.world_size > 1 else None
    logger = MetricsLogger(run, enabled=rank0, tensorboard=cfg.train.tensorboard, reduce=reduce)
    rounds, t = task.num_rounds(), cfg.train
    t0 = time.perf_counter() - wall_before

    last_good = start_round - 1 if state is not None else None  # round of the newest checkpoint

    def flush(r: int) -> None:
        row = logger.flush(step=step, round=r, time=time.perf_counter() - t0)
        check_finite(row, step=step, round_idx=r, run=run, last_good=last_good)

    last_round = start_round - 1 if not selection.stopped else int(selection.stopped_round)
    with progress_bar(enabled=rank0 and t.progress, total=rounds, done=start_round, title=spec.name) as bar:
        for r in range(start_round, rounds):
            if selection.stopped:  # resumed after an early stop: nothing left to train
                break
            for logs in task.train_round(r):
                step += 1
                logger.accumulate(logs)
                selection.accumulate(logs)
                if step % t.log_every == 0:
                    flush(r)
            flush(r)
            last = r == rounds - 1
            watched = selection.round_means(reduce) if selection.active else {}
            if (r + 1) % t.eval_every == 0 or last:
                val = task.evaluate("val")
                if val:
                    logger.write({**val, "step": step, "round": r, "time": time.perf_counter() - t0})
                bar.describe(val)
                if val and on_eval is not None:
                    on_eval(r, val)
                missing = selection.missing(val, split="val")
                if missing:
                    raise RunError(
                        f"train.early_stop / train.keep_best watch {missing}, but the validation reports "
                        f"{sorted(val) or 'nothing (this data has no val split)'}; monitor one of those, or train/loss"
                    )
                watched.update(val)
            if selection.active:
                selection.check(r, watched, task.model)
                last = last or selection.stopped
            if ((r + 1) % t.checkpoint_every == 0 or last) and rank0:
                run.save_checkpoint(
                    {
                        "model": task.model.state_dict(),
                        "task": task.state_dict(),
                        "rng": rng_state(),
                        "round": r,
                        "step": step,
                        "wall_time_s": time.perf_counter() - t0,
                        "selection": selection.state_dict(),
                    }
                )
            if (r + 1) % t.checkpoint_every == 0 or last:
                last_good = r
            last_round = r
            fabric.barrier()
            bar.advance()
            if selection.stopped:
                break

    if t.keep_best is not None:
        selection.restore(task.model)  # the result is the kept round's weights: tested and saved

    wall = time.perf_counter() - t0
    result = task.evaluate("test", final=True)
    result.update(
        model=spec.name,
        family=spec.family,
        preset=cfg.preset,
        data=cfg.data["name"],
        dataset_version=cfg.info.get("dataset_version") or cfg.info.get("gymnasium_version"),
        split="test",
        split_note=cfg.info.get("split_note", ""),
        seed=t.seed,
        rounds=last_round + 1,
        steps=step,
        wall_time_s=round(wall, 3),
        world_size=fabric.world_size,
        hardware={
            **hardware(),
            "malloc_retains_freed": retained,
            "threads_setting": t.threads,
            "precision": cfg.info.get("precision", t.precision),
        },
    )
    if selection.active:
        result["selection"] = selection.summary(last_round=last_round)
    if rank0:
        run.write_eval(result)
        run.save_weights(task.model)
        from dlzoo.plots import learning_curves

        run.plots_dir.mkdir(parents=True, exist_ok=True)
        learning_curves(run.read_metrics(), run.plots_dir / "learning_curves.png", title=spec.name)
        task.plots(run.plots_dir)
        write_card(run, spec, cfg, result)
    logger.close()
    return result


def set_threads(cfg: RunConfig, model: Any, *, local_processes: int) -> None:
    """torch's intra-op threads from train.threads (training/threads.py), recorded in ``cfg.info.threads``.

    The language paradigm's ``task.microbatch_threads > 1`` has set one torch thread per micro-batch
    thread in setup: that count is kept."""
    import torch

    if int(cfg.task.get("microbatch_threads", 1)) > 1:
        n, why = 1, f"task.microbatch_threads={cfg.task['microbatch_threads']}: one torch thread per micro-batch thread"
    else:
        n_params = sum(p.numel() for p in model.parameters())
        n, why = choose_threads(
            cfg.train.threads, n_params=n_params, batch_size=cfg.train.batch_size, local_processes=local_processes
        )
    torch.set_num_threads(n)
    cfg.info["threads"] = {"count": n, "why": why}


def check_finite(row: dict[str, float], *, step: int, round_idx: int, run: RunDir, last_good: int | None) -> None:
    """Raise ``TrainingDiverged`` when a logged ``train/...loss...`` mean is NaN or infinite.

    Called at every log flush, before the round's checkpoint: the checkpoint on disk stays the last
    good one. The message says which loss, when, what was kept and what to try.
    """
    bad = {k: v for k, v in row.items() if k.startswith("train/") and "loss" in k and not math.isfinite(v)}
    if not bad:
        return
    name, value = next(iter(bad.items()))
    kept = (
        f"the checkpoint of round {last_good} is kept in {run.checkpoint_path}"
        if last_good is not None
        else "no checkpoint had been written yet"
    )
    raise TrainingDiverged(
        f"training diverged: {name} = {value} at step {step} (round {round_idx}); {kept}. "
        "Lower the learning rate (train.lr; task.lr_g / task.lr_d for GANs), set train.grad_clip, or check "
        "the data for NaN/inf, then resume with --resume (or start a new run)"
    )


def summarize(result: dict[str, Any]) -> str:
    """The headline numbers of an eval.json, one line."""
    keys = [k for k in result if "/" in k and isinstance(result[k], float)]
    return ", ".join(f"{k}={result[k]:.4g}" for k in keys[:6]) + f" ({result.get('wall_time_s', 0):.1f} s)"


__all__ = ["RunExistsError", "TrainingDiverged", "check_finite", "hardware", "summarize", "train_run"]
