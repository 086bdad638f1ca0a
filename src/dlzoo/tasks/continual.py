"""Continual paradigm: a stream of tasks learned one after the other; the accuracy matrix R.

The batch source is a ``dlzoo.data.streams.TaskStream`` cut from the ``data:`` dataset by the
``task:`` section (``dlzoo.paradigms.ContinualConfig``: protocol, scenario, classes / seeds /
angles). With T tasks and E = ``train.epochs``, round r is epoch r mod E of task i = r // E, so a run
has T x E rounds. Batches come from ``TensorBatches`` seeded by ``(train.seed, r)``; a joint objective
(the upper bound) draws them from every task seen so far.

Each step is the objective's (``dlzoo.protocols.ContinualObjective``): ``loss`` -> backward ->
``before_update`` (A-GEM edits the gradient) -> optimizer step -> ``after_update`` (SI, the reservoir).
At the end of a task's last epoch ``finish_task`` may still change the model (GDumb, PackNet, iCaRL).
After every round the accuracy on each task's test split is recorded (the per-task curves); at the
end of a task's last epoch that row is R[i, :] (and the val split's row when the data has one), then
``consolidate`` runs on the finished task's training data (EWC's Fisher, LwF's frozen copy). The
curves, R, the random-init accuracies b and the objective's state are in ``state_dict``, so a run
resumed at any round boundary, a task boundary included, ends with the same matrix.

Task j is scored on the units an example of task j is scored on (``TaskStream.heads``): its own head
(task-IL), the shared head (domain-IL), or every class seen so far and at least its own (class-IL).
``evaluate`` reports ``<split>/acc`` (mean accuracy over the tasks seen so far), ``acc_task<j>``, and
from the completed rows of R: ``bwt``, ``fwt`` and ``forgetting`` (``dlzoo.metrics.continual``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Iterator

import torch

from dlzoo.data.streams import StreamBatch, TaskStream, make_stream, masked_logits
from dlzoo.metrics.continual import stream_metrics
from dlzoo.tasks.base import Context, Logs, Optimization, TensorBatches, build_model, load_data
from dlzoo.tasks.supervised import data_facts, record_info


class ContinualTask:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        Objective = ctx.spec.objective
        self.cfg = Objective.Config(**ctx.cfg.task)
        self.objective = Objective(self.cfg)

    def setup(self) -> None:
        ctx, fabric, t, c = self.ctx, self.ctx.fabric, self.ctx.train, self.cfg
        self.data = load_data(ctx)
        record_info(ctx, self.data.info)
        num_classes = self.data.info.num_classes or 0
        self.stream: TaskStream = make_stream(
            self.data, protocol=c.protocol, scenario=c.scenario, **c.stream_args(num_classes)
        )
        s = self.stream
        ctx.cfg.info["stream"] = {
            **s.definition,
            "scenario": s.scenario,
            "tasks": len(s),
            "classes_per_task": s.classes_per_task,
            "task_classes": [list(e.classes) for e in s.tasks],
            "num_outputs": s.num_outputs,
        }
        facts = data_facts(self.data.info)
        facts.pop("num_classes", None)
        facts["num_outputs"] = s.num_outputs
        self.model = build_model(ctx, facts)
        if fabric.world_size > 1:
            raise ValueError(
                "the continual paradigm trains in one process (train.devices=1): its strategies keep "
                "per-process state (buffers, Fisher, gradient projections) that DDP does not synchronize"
            )
        self.opt = Optimization(fabric, self.model, t)
        self.objective.prepare(s)
        T = len(s)
        self.splits = [n for n in ("val", "test") if n in s.tasks[0].splits]
        # curves[split][r, j]: accuracy on task j after round r; R[split][i, j]: after task i (NaN until then)
        self.curves = torch.full((self.num_rounds(), T), float("nan"))  # on the test split
        self.R = {n: torch.full((T, T), float("nan")) for n in self.splits}
        self.b = {n: self.accuracies(n, trained=0) for n in self.splits}  # random init (FWT's baseline)
        self.completed = 0  # tasks whose row of R is filled
        self.trained = 0  # tasks trained on so far, the current one included
        self._batches: tuple[int, TensorBatches] | None = None

    def num_rounds(self) -> int:
        return len(self.stream) * self.ctx.train.epochs

    def task_of(self, round_idx: int) -> int:
        return round_idx // self.ctx.train.epochs

    def batches(self, task: int) -> TensorBatches:
        """The current task's (every seen task's, for joint training) mini-batches, built once per task."""
        if self._batches is None or self._batches[0] != task:
            tasks = list(range(task + 1)) if self.objective.joint else [task]
            b = self.stream.batch(tasks)
            t = self.ctx.train
            self._batches = (
                task,
                TensorBatches(b.x, b.y, b.task, batch_size=t.batch_size, seed=t.seed, device=self.ctx.fabric.device),
            )
        return self._batches[1]

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        i, fmodel, opt = self.task_of(round_idx), self.opt.fmodel, self.opt
        heads = self.stream.heads(i + 1)
        self.trained = i + 1
        fmodel.train()
        for x, y, task in self.batches(i).epoch(round_idx):
            batch = StreamBatch(x, y, task)
            loss, logs = self.objective.loss(fmodel, batch, heads)
            opt.optimizer.zero_grad(set_to_none=True)
            opt.fabric.backward(loss)
            logs = {**logs, **self.objective.before_update(self.model, batch, heads)}
            if opt.clip is not None:
                opt.fabric.clip_gradients(fmodel, opt.optimizer, max_norm=opt.clip)
            opt.optimizer.step()
            self.objective.after_update(self.model, batch)
            yield {"train/loss": loss.detach(), **{f"train/{k}": v for k, v in logs.items()}}
        opt.end_epoch()
        boundary = (round_idx + 1) % self.ctx.train.epochs == 0
        if boundary:  # the strategy's last word on this task (GDumb's retraining, PackNet's pruning)
            self.objective.finish_task(self.model, self.stream.batch([i]), heads)
        self.curves[round_idx] = self.accuracies("test", trained=i + 1)
        if boundary:  # task boundary: a row of R, then consolidation
            for n in self.splits:
                self.R[n][i] = self.curves[round_idx] if n == "test" else self.accuracies(n, trained=i + 1)
            self.completed = i + 1
            if i + 1 < len(self.stream):
                self.objective.consolidate(self.model, self.stream.batch([i]), heads)

    @torch.no_grad()
    def accuracies(self, split: str, *, trained: int) -> torch.Tensor:
        """Accuracy on every task's ``split`` with ``trained`` tasks trained so far. (T,)"""
        self.model.eval()
        device, size = self.ctx.fabric.device, self.cfg.eval_batch_size
        out = []
        for j in range(len(self.stream)):
            b = self.stream.batch([j], split)
            heads = self.stream.heads(max(trained, j + 1))  # class-IL: the seen classes and at least its own
            correct = 0
            for start in range(0, len(b), size):
                x, y, task = (v[start : start + size].to(device) for v in (b.x, b.y, b.task))
                pred = masked_logits(self.model(x), heads.mask(task)).argmax(-1)
                correct += int((pred == y).sum())
            out.append(correct / max(1, len(b)))
        return torch.tensor(out)

    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        if split not in self.splits:
            return {}
        # the current task counts from its first round; weights loaded without training here (``dlzoo
        # eval``: a finished run's model.safetensors) have seen the whole stream
        seen = self.trained or len(self.stream)
        now = self.accuracies(split, trained=seen)
        out = {f"{split}/acc": float(now[:seen].mean())}
        out.update({f"{split}/acc_task{j}": float(now[j]) for j in range(seen)})
        c = self.completed
        if c >= 2:
            more = stream_metrics(self.R[split][:c, :c], self.b[split][:c])
            out.update({f"{split}/{k}": v for k, v in more.items() if k != "acc"})
        if final:
            state = self.objective.state_dict()
            floats = [v for v in state.values() if torch.is_tensor(v) and v.is_floating_point()]
            out[f"{split}/strategy_memory_mb"] = sum(v.numel() * v.element_size() for v in floats) / 2**20
            if c:  # R and b exist only where this process trained (rows: after task i; null: not reached)
                rows = [[None if v != v else v for v in row] for row in self.R[split][:c].tolist()]
                out["accuracy_matrix"] = rows  # type: ignore[assignment]
                out["random_init_accuracy"] = self.b[split].tolist()  # type: ignore[assignment]
            out["stream"] = self.ctx.cfg.info["stream"]  # type: ignore[assignment]
        return out

    # -- contract / export ---------------------------------------------------------------------
    dynamic_dims = None  # one input, the batch dimension varies

    def example_inputs(self, n: int) -> tuple[torch.Tensor]:
        """The first n training inputs of the dataset (n, *input_shape)."""
        return (self.data.train.x[:n].clone(),)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"opt": self.opt.state_dict(), "objective": self.objective.state_dict()}
        state["completed"], state["trained"] = torch.tensor(self.completed), torch.tensor(self.trained)
        state["curves"] = self.curves
        for n in self.splits:
            state[f"R/{n}"], state[f"b/{n}"] = self.R[n], self.b[n]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["opt"])
        self.objective.load_state_dict(state["objective"])
        self.completed, self.trained = int(state["completed"]), int(state["trained"])
        self.curves = state["curves"]
        for n in self.splits:
            self.R[n], self.b[n] = state[f"R/{n}"], state[f"b/{n}"]

    def plots(self, folder: Path) -> list[Path]:
        from dlzoo.plots import accuracy_matrix_plot, task_curves_plot

        boundaries = [self.ctx.train.epochs * (i + 1) - 0.5 for i in range(len(self.stream) - 1)]
        name = self.ctx.spec.name
        return [
            accuracy_matrix_plot(self.R["test"], folder / "accuracy_matrix.png", title=f"{name}: R[i, j] (test)"),
            task_curves_plot(self.curves, folder / "task_curves.png", boundaries=boundaries, title=name),
            *self.ctx.spec.plots.draw(self.objective, self.model, self.stream, folder),
        ]
