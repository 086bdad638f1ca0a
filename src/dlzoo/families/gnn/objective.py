"""What GNNs are trained for: node classification, graph classification, link prediction.

Each objective is a ``Config`` (the run config's ``task:`` section), its loss, and how a trained
run answers requests (``requests`` + ``serve``) and is exported (``export_inputs``). The loops
that use them are in ``dlzoo/tasks/graph.py``.

- Node classification (transductive; Kipf & Welling 2017, Eq. 10): cross-entropy over the
  labelled training nodes, L = -1/|Y_L| sum_{i in Y_L} log softmax(Z_i)_{y_i}; the whole graph is
  propagated every step, or, with ``fanouts``, mini-batches of target nodes on sampled
  neighbourhoods (Hamilton et al. 2017, Alg. 2).
- Graph classification (Xu et al. 2019): cross-entropy over a mini-batch of graphs stacked
  block-diagonally.
- Link prediction (graph auto-encoder decoder, Kipf & Welling 2016): score(u, v) = σ(z_uᵀ z_v)
  for node embeddings z = GNN(X, A_train); binary cross-entropy on the held-out-free training edges
  against as many uniformly sampled non-edges (negative sampling, Mikolov et al. 2013).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

MAX_NODES = 100_000  # per graph-classification request, all graphs together
MAX_ITEMS = 4096  # node ids, graphs or pairs per request


# -- example graphs (contract tests, export) ----------------------------------------------------


def example_graph(num_nodes: int, num_features: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A ring with chords, both directions, and Gaussian features: x (n, F), edge_index (2, E)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, num_features, generator=g).abs()  # (n, F) non-negative, like word counts
    i = torch.arange(num_nodes)
    pairs = torch.cat([torch.stack([i, (i + 1) % num_nodes]), torch.stack([i, (i + 3) % num_nodes])], 1)
    pairs = pairs[:, pairs[0] != pairs[1]]  # (2, E/2) no self-loops for tiny n
    return x, torch.cat([pairs, pairs.flip(0)], 1)  # (2, E)


def example_graphs(num_graphs: int, num_features: int, *, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """``num_graphs`` small graphs of 3..7 nodes, batched: x (N, F), edge_index (2, E), batch (N,)."""
    xs, edges, batch, offset = [], [], [], 0
    for k in range(num_graphs):
        n = 3 + (k * 2 + seed) % 5
        x, ei = example_graph(n, num_features, seed=seed * 1000 + k)
        xs.append(x)
        edges.append(ei + offset)
        batch.append(torch.full((n,), k, dtype=torch.long))
        offset += n
    return torch.cat(xs), torch.cat(edges, 1), torch.cat(batch)


# -- request bodies ------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodesRequest(_Body):
    """Node classification on the run's graph: which nodes to label."""

    nodes: list[int] = Field(
        min_length=1, max_length=MAX_ITEMS, description="node ids 0..N-1 of the served graph", examples=[[0, 1, 2]]
    )


class GraphIn(_Body):
    features: list[list[float]] = Field(
        min_length=1, description="(num_nodes, num_features) node feature rows", examples=[[[1, 0], [0, 1], [1, 0]]]
    )
    edges: list[tuple[int, int]] = Field(
        default_factory=list,
        description="[src, dst] node-id pairs, 0-based; treated as undirected, duplicates merged, self-loops dropped",
        examples=[[[0, 1], [1, 2]]],
    )


class GraphsRequest(_Body):
    """Graph classification: one or more graphs posted whole."""

    graphs: list[GraphIn] = Field(min_length=1, max_length=MAX_ITEMS)


class PairsRequest(_Body):
    """Link prediction on the run's graph: node pairs to score."""

    pairs: list[tuple[int, int]] = Field(min_length=1, max_length=MAX_ITEMS, examples=[[[0, 1], [0, 33]]])


# -- helpers shared by the serve hooks ------------------------------------------------------------


def _input_error(msg: str) -> Exception:
    from dlzoo.inference import InputError

    return InputError(msg)


def _num_features(loaded: Any) -> int:
    return int(loaded.config.info["input_shape"][0])


_GRAPHS: dict[str, Any] = {}  # run path -> its graph and model outputs (node-level serving)


def served_graph(loaded: Any) -> Any:
    """The run's graph, reloaded from its ``data:`` section (needs the same DLZOO_DATA as training)."""
    key = str(loaded.run.path)
    if key not in _GRAPHS:
        from dlzoo.data import DataError, load_dataset

        try:
            data = load_dataset(loaded.config.data["name"], **loaded.config.data_args())
        except DataError as e:
            raise _input_error(f"cannot reload the graph this run was trained on: {e}") from None
        _GRAPHS[key] = data.graph
    return _GRAPHS[key]


def _check_ids(ids: list[int], n: int, *, what: str) -> torch.Tensor:
    t = torch.tensor(ids, dtype=torch.long)
    bad = ((t < 0) | (t >= n)).nonzero()
    if len(bad):
        i = int(bad[0])
        raise _input_error(f"{what}[{i}]: node id {ids[i]} out of range; the graph has {n} nodes (ids 0..{n - 1})")
    return t


def _class_result(logits: torch.Tensor, loaded: Any) -> dict[str, Any]:
    probs = logits.softmax(-1)  # (B, C)
    labels = probs.argmax(-1).tolist()
    out: dict[str, Any] = {"labels": labels, "probabilities": probs.tolist()}
    names = loaded.config.info.get("class_names")
    if names:
        out["class_names"] = [names[i] for i in labels]
    return out


# -- objectives ---------------------------------------------------------------------------------


class NodeClassification:
    """Transductive node classification: softmax cross-entropy over the training nodes' logits."""

    level: ClassVar[str] = "node"
    dynamic_dims: ClassVar[tuple[dict[int, str], ...]] = ({0: "nodes"}, {1: "edges"})
    requests: ClassVar[dict[str, type[BaseModel]]] = {"predict": NodesRequest}

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label_smoothing: float = Field(0.0, ge=0, lt=1, description="mix targets with uniform (Szegedy 2016)")
        fanouts: list[int] | None = Field(
            None,
            description="neighbour sampling: neighbours per node at hop 1, 2, ... "
            "(-1 = all); mini-batches of train.batch_size target nodes. "
            "None = full-batch training",
        )
        keep_best: bool = Field(
            False,
            description="test and save the weights of the epoch with the best "
            "val/accuracy (the earliest on ties), not the last",
        )

    def __init__(self, cfg: NodeClassification.Config) -> None:
        self.cfg = cfg

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing)  # (B, C), (B,) -> ()

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor, ...]:
        return example_graph(n, _num_features(loaded))

    @staticmethod
    @torch.no_grad()
    def serve(verb: str, loaded: Any, body: NodesRequest) -> dict[str, Any]:
        graph = served_graph(loaded)
        nodes = _check_ids(body.nodes, graph.num_nodes, what="nodes")
        logits = loaded.model(graph.x, graph.edge_index)[nodes]  # (B, C)
        return {"nodes": body.nodes, **_class_result(logits, loaded)}


class GraphClassification:
    """Graph classification: softmax cross-entropy over a block-diagonal mini-batch of graphs."""

    level: ClassVar[str] = "graph"
    dynamic_dims: ClassVar[tuple[dict[int, str], ...]] = ({0: "nodes"}, {1: "edges"}, {0: "nodes"})
    requests: ClassVar[dict[str, type[BaseModel]]] = {"predict": GraphsRequest}

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label_smoothing: float = Field(0.0, ge=0, lt=1, description="mix targets with uniform (Szegedy 2016)")

    def __init__(self, cfg: GraphClassification.Config) -> None:
        self.cfg = cfg

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing)  # (G, C), (G,) -> ()

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor, ...]:
        return example_graphs(n, _num_features(loaded))

    @staticmethod
    @torch.no_grad()
    def serve(verb: str, loaded: Any, body: GraphsRequest) -> dict[str, Any]:
        from dlzoo.data import DataError
        from dlzoo.data.graphs import Graph, canonical_edges, collate

        f = _num_features(loaded)
        graphs = []
        if sum(len(g.features) for g in body.graphs) > MAX_NODES:
            raise _input_error(f"more than {MAX_NODES} nodes in one request; send fewer graphs")
        for k, g in enumerate(body.graphs):
            widths = {len(row) for row in g.features}
            if widths != {f}:
                row = next(i for i, r in enumerate(g.features) if len(r) != f)
                raise _input_error(
                    f"graphs[{k}].features[{row}]: expected {f} features per node "
                    f"(the model's input size), got {len(g.features[row])}"
                )
            x = torch.tensor(g.features, dtype=torch.float32)  # (n, F)
            if not torch.isfinite(x).all():
                raise _input_error(f"graphs[{k}].features: contains NaN or infinity")
            ei = torch.tensor(g.edges, dtype=torch.long).reshape(-1, 2).T  # (2, E)
            try:
                ei = canonical_edges(ei, len(x), where=f"graphs[{k}].edges")
            except DataError as e:
                raise _input_error(str(e)) from None
            graphs.append(Graph(x, ei, torch.tensor(0)))
        b = collate(graphs)
        return _class_result(loaded.model(b.x, b.edge_index, b.batch), loaded)


def link_logits(z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """Inner-product decoder logit z_uᵀ z_v (Kipf & Welling 2016, Eq. 2 before σ); z (N, D), pairs (2, P) -> (P,)."""
    return (z[pairs[0]] * z[pairs[1]]).sum(-1)


def negative_pairs(num_nodes: int, count: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` uniformly random node pairs (2, count) with u != v; a few may be true edges, as in PyG."""
    u = torch.randint(0, num_nodes, (count,), generator=generator)
    v = (u + torch.randint(1, num_nodes, (count,), generator=generator)) % num_nodes  # v != u
    return torch.stack([u, v])


class LinkPrediction:
    """Link prediction: node embeddings z, edge probability σ(z_uᵀ z_v), BCE against negative samples."""

    level: ClassVar[str] = "link"
    dynamic_dims: ClassVar[tuple[dict[int, str], ...]] = ({0: "nodes"}, {1: "edges"})
    requests: ClassVar[dict[str, type[BaseModel]]] = {"predict": PairsRequest}

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        val_fraction: float = Field(0.05, ge=0, lt=0.5, description="undirected edges held out for val/auroc")
        test_fraction: float = Field(0.10, gt=0, lt=0.5, description="undirected edges held out for test/auroc")
        split_seed: int = Field(0, description="seed of the edge split and of the evaluation negatives")
        negatives: float = Field(
            1.0, gt=0, description="negative pairs per positive training edge, resampled every step"
        )

    def __init__(self, cfg: LinkPrediction.Config) -> None:
        self.cfg = cfg

    def loss(self, z: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        # L = -mean log σ(z_uᵀz_v) over edges - mean log(1 - σ(z_uᵀz_v)) over negative pairs
        pos_logit, neg_logit = link_logits(z, pos), link_logits(z, neg)  # (P,), (Q,)
        return F.binary_cross_entropy_with_logits(
            pos_logit, torch.ones_like(pos_logit)
        ) + F.binary_cross_entropy_with_logits(neg_logit, torch.zeros_like(neg_logit))

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor, ...]:
        return example_graph(n, _num_features(loaded))

    @staticmethod
    @torch.no_grad()
    def serve(verb: str, loaded: Any, body: PairsRequest) -> dict[str, Any]:
        graph = served_graph(loaded)
        flat = [v for p in body.pairs for v in p]
        pairs = _check_ids(flat, graph.num_nodes, what="pairs (flattened)").view(-1, 2).T  # (2, P)
        z = loaded.model(graph.x, graph.edge_index)  # (N, D) embeddings on the run's whole graph
        return {"pairs": [list(p) for p in body.pairs], "probabilities": link_logits(z, pairs).sigmoid().tolist()}
