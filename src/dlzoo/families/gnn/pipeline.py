"""Serving and export of the GNN objectives: request bodies, answers, example graphs.

- node classification: ``POST /predict {"nodes": [0, 1, 2]}`` labels nodes of the run's graph
  (reloaded from its ``data:`` section), or, with ``"graph": {"features": ..., "edges": ...}``, nodes
  of a graph posted whole (features of the model's width; the playground's drawn graph);
- graph classification: ``{"graphs": [{"features": [[...]], "edges": [[0, 1]]}]}`` classifies
  posted graphs;
- link prediction: ``{"pairs": [[0, 1]]}`` gives the edge probability σ(z_uᵀ z_v) of node pairs.

Export inputs are example graphs (``dlzoo.data.graph_sampling``) with the run's feature width; the
node and edge counts vary.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.data.graph_sampling import example_graph, example_graphs
from dlzoo.families.gnn.objective import link_logits
from dlzoo.protocols import Dynamic, Pipeline
from dlzoo.validation import InputError

MAX_NODES = 100_000  # per graph-classification request, all graphs together
MAX_ITEMS = 4096  # node ids, graphs or pairs per request


# -- request bodies ------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GraphIn(_Body):
    features: list[list[float]] = Field(
        min_length=1, description="(num_nodes, num_features) node feature rows", examples=[[[1, 0], [0, 1], [1, 0]]]
    )
    edges: list[tuple[int, int]] = Field(
        default_factory=list,
        description="[src, dst] node-id pairs, 0-based; treated as undirected, duplicates merged, self-loops dropped",
        examples=[[[0, 1], [1, 2]]],
    )


class NodesRequest(_Body):
    """Node classification: which nodes to label, on the run's graph or on a graph posted with them."""

    nodes: list[int] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="node ids 0..N-1 of the served graph (or of the posted graph)",
        examples=[[0, 1, 2]],
    )
    graph: GraphIn | None = Field(
        None,
        description="a graph of your own (features of the model's input width, GET /v1/models/{name} gives it): "
        "its nodes are labelled by the trained model instead of the run's graph's",
    )


class GraphsRequest(_Body):
    """Graph classification: one or more graphs posted whole."""

    graphs: list[GraphIn] = Field(min_length=1, max_length=MAX_ITEMS)


class PairsRequest(_Body):
    """Link prediction on the run's graph: node pairs to score."""

    pairs: list[tuple[int, int]] = Field(min_length=1, max_length=MAX_ITEMS, examples=[[[0, 1], [0, 33]]])


# -- helpers shared by the serve hooks ------------------------------------------------------------


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
            raise InputError(f"cannot reload the graph this run was trained on: {e}") from None
        _GRAPHS[key] = data.graph
    return _GRAPHS[key]


def _check_ids(ids: list[int], n: int, *, what: str) -> torch.Tensor:
    """Node ids -> a long tensor; an id outside 0..n-1 (int64's range included) is an InputError naming it.
    Checked on the Python ints first: torch.tensor overflows on ids beyond int64."""
    for i, v in enumerate(ids):
        if not 0 <= v < n:
            raise InputError(f"{what}[{i}]: node id {v} out of range; the graph has {n} nodes (ids 0..{n - 1})")
    return torch.tensor(ids, dtype=torch.long)


def _class_result(logits: torch.Tensor, loaded: Any) -> dict[str, Any]:
    probs = logits.softmax(-1)  # (B, C)
    labels = probs.argmax(-1).tolist()
    out: dict[str, Any] = {"labels": labels, "probabilities": probs.tolist()}
    names = loaded.config.info.get("class_names")
    if names:
        out["class_names"] = [names[i] for i in labels]
    return out


def _posted_graph(g: GraphIn, f: int, *, where: str) -> Any:
    """A posted graph -> ``Graph`` (label 0): features of width ``f``, finite; edges checked and made canonical."""
    from dlzoo.data import DataError
    from dlzoo.data.graphs import Graph, canonical_edges

    widths = {len(row) for row in g.features}
    if widths != {f}:
        row = next(i for i, r in enumerate(g.features) if len(r) != f)
        raise InputError(
            f"{where}.features[{row}]: expected {f} features per node (the model's input size), "
            f"got {len(g.features[row])}"
        )
    x = torch.tensor(g.features, dtype=torch.float32)  # (n, F)
    if not torch.isfinite(x).all():
        raise InputError(f"{where}.features: contains NaN or infinity")
    bad = next((v for e in g.edges for v in e if not 0 <= v < len(x)), None)  # torch.tensor overflows
    if bad is not None:  # on ids beyond int64: checked on the Python ints, as canonical_edges words it
        n = len(x)
        raise InputError(f"{where}.edges: node id {bad} out of range; the graph has {n} nodes (ids 0..{n - 1})")
    ei = torch.tensor(g.edges, dtype=torch.long).reshape(-1, 2).T  # (2, E)
    try:
        ei = canonical_edges(ei, len(x), where=f"{where}.edges")
    except DataError as e:
        raise InputError(str(e)) from None
    return Graph(x, ei, torch.tensor(0))


class NodePipeline(Pipeline):
    """Node classification on the run's graph."""

    dynamic_dims: ClassVar[Dynamic] = ({0: "nodes"}, {1: "edges"})
    requests: ClassVar[dict[str, type[BaseModel]]] = {"predict": NodesRequest}

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor, ...]:
        return example_graph(n, _num_features(loaded))

    @staticmethod
    @torch.no_grad()
    def serve(verb: str, loaded: Any, body: NodesRequest) -> dict[str, Any]:
        if body.graph is not None:
            if len(body.graph.features) > MAX_NODES:
                raise InputError(f"graph: more than {MAX_NODES} nodes; send a smaller graph")
            graph = _posted_graph(body.graph, _num_features(loaded), where="graph")
        else:
            graph = served_graph(loaded)
        nodes = _check_ids(body.nodes, graph.num_nodes, what="nodes")
        logits = loaded.model(graph.x, graph.edge_index)[nodes]  # (B, C)
        return {"nodes": body.nodes, **_class_result(logits, loaded)}


class GraphPipeline(Pipeline):
    """Graph classification of posted graphs."""

    dynamic_dims: ClassVar[Dynamic] = ({0: "nodes"}, {1: "edges"}, {0: "nodes"})
    requests: ClassVar[dict[str, type[BaseModel]]] = {"predict": GraphsRequest}

    @staticmethod
    def export_inputs(loaded: Any, n: int) -> tuple[torch.Tensor, ...]:
        return example_graphs(n, _num_features(loaded))

    @staticmethod
    @torch.no_grad()
    def serve(verb: str, loaded: Any, body: GraphsRequest) -> dict[str, Any]:
        from dlzoo.data.graphs import collate

        f = _num_features(loaded)
        graphs = []
        if sum(len(g.features) for g in body.graphs) > MAX_NODES:
            raise InputError(f"more than {MAX_NODES} nodes in one request; send fewer graphs")
        for k, g in enumerate(body.graphs):
            graphs.append(_posted_graph(g, f, where=f"graphs[{k}]"))
        b = collate(graphs)
        return _class_result(loaded.model(b.x, b.edge_index, b.batch), loaded)


class LinkPipeline(Pipeline):
    """Link prediction on the run's graph."""

    dynamic_dims: ClassVar[Dynamic] = ({0: "nodes"}, {1: "edges"})
    requests: ClassVar[dict[str, type[BaseModel]]] = {"predict": PairsRequest}

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
