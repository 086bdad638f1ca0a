"""Graph paradigm: node classification, graph classification and link prediction.

The family objective says which (``objective.level``: "node" | "graph" | "link"); the data come from
``dlzoo.data.graphs`` (a single graph with split masks, or lists of small graphs).

- node, full batch: one optimizer step per epoch on the whole graph; the loss covers the training
  nodes only (transductive: every node's features and edges are seen, only train labels are used).
- node, ``task.fanouts`` set: mini-batches of ``train.batch_size`` training nodes, each on a sampled
  neighbourhood subgraph (families/gnn/sampler.py); evaluation is still on the whole graph.
- graph: mini-batches of ``train.batch_size`` graphs stacked block-diagonally (``collate``).
- link: the undirected edges are split once into train / val / test (``task.split_seed``); the
  encoder only ever propagates over the training edges; each step scores the training edges against
  freshly sampled non-edges; val/test AUROC over the held-out edges and as many fixed negatives.

Metrics: ``<split>/accuracy``, ``<split>/f1_macro``, ``<split>/nll`` (classification),
``<split>/auroc`` (link), ``train/loss``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from dlzoo.metrics import classification_metrics
from dlzoo.tasks.base import Context, Logs, Optimization, build_model, load_data
from dlzoo.tasks.supervised import record_info


def graph_task(ctx: Context) -> Any:
    """The Task for the objective's level (``dlzoo.paradigms.PARADIGMS["graph"]`` points here)."""
    from dlzoo.registry import choices_error

    tasks = {"node": NodeTask, "graph": GraphTask, "link": LinkTask}
    level = ctx.spec.objective.level
    if level not in tasks:
        raise ValueError(f"{ctx.spec.name}: " + choices_error("graph objective level", str(level), list(tasks)))
    return tasks[level](ctx)


def _facts(info: Any) -> dict[str, Any]:
    return {"in_features": info.input_shape[0], "out_features": info.num_classes, "num_classes": info.num_classes}


class _Base:
    """Shared plumbing: objective from the ``task:`` section, one optimizer.

    Keeping the best validation epoch is the loop's ``train.keep_best`` (training/selection.py)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        Objective = ctx.spec.objective
        self.objective = Objective(Objective.Config(**ctx.cfg.task))

    def _setup_model(self, derived: dict[str, Any]) -> None:
        self.model = build_model(self.ctx, derived)
        self.opt = Optimization(self.ctx.fabric, self.model, self.ctx.train)
        self.device = self.ctx.fabric.device

    def num_rounds(self) -> int:
        return self.ctx.train.epochs

    def state_dict(self) -> dict[str, Any]:
        return {"opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt.load_state_dict(state["opt"])

    @property
    def dynamic_dims(self) -> tuple[dict[int, str], ...] | None:
        """Export: the varying dims of forward's inputs (node and edge counts)."""
        return self.ctx.spec.pipeline.dynamic_dims

    def plots(self, folder: Path) -> list[Path]:
        return self.ctx.spec.plots.draw(self.objective, self.model, self.data, folder)


def _classification(logits: torch.Tensor, y: torch.Tensor, split: str, num_classes: int) -> dict[str, float]:
    metrics = classification_metrics(num_classes)
    metrics.update(logits, y)
    out = {f"{split}/{k}": float(v) for k, v in metrics.compute().items()}
    out[f"{split}/nll"] = float(F.cross_entropy(logits, y))
    return out


# -- node classification ------------------------------------------------------------------------


class NodeTask(_Base):
    def setup(self) -> None:
        self.data = load_data(self.ctx)
        record_info(self.ctx, self.data.info)
        self._setup_model(_facts(self.data.info))
        g = self.data.graph
        self.x, self.edge_index, self.y = g.x.to(self.device), g.edge_index.to(self.device), g.y.to(self.device)
        self.train_nodes = self.data.train_mask.nonzero().squeeze(1)  # (N_train,)
        self.sampler = None
        if self.objective.cfg.fanouts is not None:
            from dlzoo.data.graph_sampling import NeighborSampler

            self.sampler = NeighborSampler(g.edge_index, g.num_nodes, fanouts=self.objective.cfg.fanouts)

    def example_inputs(self, n: int) -> tuple[torch.Tensor, ...]:
        from dlzoo.data.graph_sampling import example_graph

        return example_graph(n, self.x.shape[1])

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        model = self.opt.fmodel.train()
        if self.sampler is None:  # full batch: propagate over the whole graph, loss on the training nodes
            logits = model(self.x, self.edge_index)  # (N, C)
            loss = self.objective.loss(logits[self.train_nodes], self.y[self.train_nodes])
            self.opt.step(loss)
            yield {"train/loss": loss.detach()}
        else:  # mini-batches of target nodes on sampled neighbourhoods (Hamilton et al. 2017, Alg. 2)
            g = torch.Generator().manual_seed(self.ctx.train.seed * 100_003 + round_idx)
            perm = self.train_nodes[torch.randperm(len(self.train_nodes), generator=g)]
            for seeds in perm.split(self.ctx.train.batch_size):
                nodes, sub = self.sampler.sample(seeds, generator=g)  # (M,), (2, E')
                logits = model(self.x[nodes.to(self.device)], sub.to(self.device))[: len(seeds)]  # (B, C)
                loss = self.objective.loss(logits, self.y[seeds.to(self.device)])
                self.opt.step(loss)
                yield {"train/loss": loss.detach()}
        self.opt.end_epoch()

    @torch.no_grad()
    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        mask = getattr(self.data, f"{split}_mask")
        if mask is None:
            return {}
        self.model.eval()
        logits = self.model(self.x, self.edge_index)  # (N, C) every node sees its full neighbourhood
        mask = mask.to(self.device)
        return _classification(logits[mask], self.y[mask], split, self.data.info.num_classes)


# -- graph classification -----------------------------------------------------------------------


class GraphTask(_Base):
    def setup(self) -> None:
        from dlzoo.data.graphs import collate

        self.data = load_data(self.ctx)
        record_info(self.ctx, self.data.info)
        self._setup_model(_facts(self.data.info))
        self.collate = collate
        self.eval_batches = {s: collate(getattr(self.data, s)) for s in ("val", "test") if getattr(self.data, s)}

    def example_inputs(self, n: int) -> tuple[torch.Tensor, ...]:
        from dlzoo.data.graph_sampling import example_graphs

        return example_graphs(n, self.data.info.input_shape[0])

    def _forward(self, model: torch.nn.Module, b: Any) -> torch.Tensor:
        return model(b.x.to(self.device), b.edge_index.to(self.device), b.batch.to(self.device))  # (G, C)

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        model = self.opt.fmodel.train()
        train = self.data.train
        g = torch.Generator().manual_seed(self.ctx.train.seed * 100_003 + round_idx)
        for idx in torch.randperm(len(train), generator=g).split(self.ctx.train.batch_size):
            b = self.collate([train[i] for i in idx.tolist()])
            if b.x.shape[0] < 2:  # a lone one-node graph: BatchNorm over nodes needs two rows
                continue
            loss = self.objective.loss(self._forward(model, b), b.y.to(self.device))
            self.opt.step(loss)
            yield {"train/loss": loss.detach()}
        self.opt.end_epoch()

    @torch.no_grad()
    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        if split not in self.eval_batches:
            return {}
        self.model.eval()
        b = self.eval_batches[split]
        return _classification(self._forward(self.model, b), b.y.to(self.device), split, self.data.info.num_classes)


# -- link prediction ----------------------------------------------------------------------------


def split_edges(edge_index: torch.Tensor, *, val: float, test: float, seed: int) -> dict[str, torch.Tensor]:
    """Split undirected edges (both directions stored) into train/val/test; returns (2, E_s) with u < v."""
    und = edge_index[:, edge_index[0] < edge_index[1]]  # (2, E/2) one direction per edge
    perm = torch.randperm(und.shape[1], generator=torch.Generator().manual_seed(seed))
    n_val, n_test = int(round(val * len(perm))), int(round(test * len(perm)))
    return {
        "val": und[:, perm[:n_val]],
        "test": und[:, perm[n_val : n_val + n_test]],
        "train": und[:, perm[n_val + n_test :]],
    }


class LinkTask(_Base):
    def setup(self) -> None:
        self.data = load_data(self.ctx)
        record_info(self.ctx, self.data.info)
        cfg = self.objective.cfg
        g = self.data.graph
        self.edges = split_edges(g.edge_index, val=cfg.val_fraction, test=cfg.test_fraction, seed=cfg.split_seed)
        if self.edges["train"].shape[1] == 0 or self.edges["test"].shape[1] == 0:
            raise ValueError(
                f"link prediction needs edges to train and test on; {self.data.info.name} has "
                f"{g.edge_index.shape[1] // 2} undirected edges"
            )
        self.ctx.cfg.info.update(
            link_splits={k: int(v.shape[1]) for k, v in self.edges.items()}, num_classes=None, class_names=None
        )
        self._setup_model({"in_features": g.x.shape[1]})
        self.x = g.x.to(self.device)
        train = self.edges["train"]
        self.message_edges = torch.cat([train, train.flip(0)], 1).to(self.device)  # (2, 2E_train) both directions
        gen = torch.Generator().manual_seed(cfg.split_seed + 1)
        from dlzoo.data.graph_sampling import negative_pairs

        self.eval_negatives = {
            s: negative_pairs(g.num_nodes, self.edges[s].shape[1], generator=gen) for s in ("val", "test")
        }

    def example_inputs(self, n: int) -> tuple[torch.Tensor, ...]:
        from dlzoo.data.graph_sampling import example_graph

        return example_graph(n, self.x.shape[1])

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        from dlzoo.data.graph_sampling import negative_pairs

        model = self.opt.fmodel.train()
        pos = self.edges["train"]
        g = torch.Generator().manual_seed(self.ctx.train.seed * 100_003 + round_idx)
        neg = negative_pairs(self.x.shape[0], int(pos.shape[1] * self.objective.cfg.negatives), generator=g)
        z = model(self.x, self.message_edges)  # (N, D) embeddings from the training edges only
        loss = self.objective.loss(z, pos.to(self.device), neg.to(self.device))
        self.opt.step(loss)
        yield {"train/loss": loss.detach()}
        self.opt.end_epoch()

    @torch.no_grad()
    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        from torchmetrics.functional.classification import binary_auroc

        if self.edges[split].shape[1] == 0:
            return {}
        self.model.eval()
        z = self.model(self.x, self.message_edges)  # (N, D)
        pos, neg = self.edges[split].to(self.device), self.eval_negatives[split].to(self.device)
        scores = torch.cat([self.objective.link_logits(z, pos), self.objective.link_logits(z, neg)])  # (P + Q,)
        target = torch.cat([torch.ones(pos.shape[1]), torch.zeros(neg.shape[1])]).long().to(self.device)
        return {f"{split}/auroc": float(binary_auroc(scores, target))}
