"""Graphs: one big graph with node labels (Planetoid, karate club) or many small labelled graphs (TU).

    from dlzoo.data import load_dataset
    cora = load_dataset("cora")              # NodeData: graph.x (2708, 1433), graph.edge_index (2, 10556), masks
    mutag = load_dataset("mutag", fold=3)    # GraphSetData: train / test lists of Graph, fold 3 of 10
    karate = load_dataset("karate")          # Zachary's karate club from networkx (offline default)

Every graph is canonical when it leaves this module (:func:`canonical_edges`): edges undirected
(both directions stored), no duplicates, no self-loops (models add their own), sorted by (src, dst).
Isolated nodes and graphs without edges are kept. Features are float32, labels int64.

Formats:
- Planetoid (Yang et al. 2016): ``ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}`` in
  ``<root>`` (default ``$DLZOO_DATA/planetoid``); Python-2 pickles, read with an unpickler that
  only admits numpy arrays, scipy sparse matrices and the graph's dict/lists (no code runs).
  Standard public split: the first 20 labelled nodes per class (``y``) train, the next 500 val,
  the 1000 ``test.index`` nodes test.
- TUDataset (Morris et al. 2020): ``<name>_A.txt`` (1-based "i, j" edges), ``_graph_indicator``,
  ``_graph_labels``, optional ``_node_labels`` (one-hot features) and ``_node_attributes`` in
  ``<root>`` (default ``$DLZOO_DATA/<name>``, or its ``raw/``). Split: fold ``fold`` of
  ``folds``-fold stratified CV (scikit-learn ``StratifiedKFold(shuffle=True, random_state=split_seed)``,
  the GIN paper's protocol). Continuous node attributes are standardised with the training fold's
  statistics by default (``node_attributes``: "standardize" | "raw" | "drop").
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dlzoo.data.base import DataError, DataInfo, register_dataset
from dlzoo.data.download import Resource, data_root, fetch

# -- containers ---------------------------------------------------------------------------------


@dataclass
class Graph:
    """One graph. Shapes: x (N, F) float32; edge_index (2, E) int64 in [0, N); y () or (N,) int64."""

    x: torch.Tensor
    edge_index: torch.Tensor
    y: torch.Tensor

    @property
    def num_nodes(self) -> int:
        return self.x.shape[0]


@dataclass
class NodeData:
    """One graph with node labels and boolean split masks (N,) (transductive node classification)."""

    graph: Graph
    train_mask: torch.Tensor
    val_mask: torch.Tensor | None
    test_mask: torch.Tensor
    info: DataInfo


@dataclass
class GraphSetData:
    """Many labelled graphs split into train / val / test lists (graph classification)."""

    train: list[Graph]
    val: list[Graph] | None
    test: list[Graph]
    info: DataInfo


@dataclass
class GraphBatch:
    """Graphs stacked block-diagonally: x (N, F), edge_index (2, E) offset per graph, batch (N,) graph id, y (G,)."""

    x: torch.Tensor
    edge_index: torch.Tensor
    batch: torch.Tensor
    y: torch.Tensor

    @property
    def num_graphs(self) -> int:
        return self.y.shape[0]


def collate(graphs: list[Graph]) -> GraphBatch:
    """Block-diagonal batch: graph i's node ids are shifted by the nodes of graphs 0..i-1."""
    if not graphs:
        raise DataError("cannot batch an empty list of graphs")
    sizes = torch.tensor([g.num_nodes for g in graphs])  # (G,)
    offsets = torch.cumsum(sizes, 0) - sizes  # (G,) first node id of each graph
    x = torch.cat([g.x for g in graphs])  # (N, F)
    edge_index = torch.cat([g.edge_index + o for g, o in zip(graphs, offsets.tolist(), strict=True)], dim=1)  # (2, E)
    batch = torch.repeat_interleave(torch.arange(len(graphs)), sizes)  # (N,)
    y = torch.stack([g.y.reshape(()) for g in graphs])  # (G,)
    return GraphBatch(x, edge_index, batch, y)


# -- canonical edges ----------------------------------------------------------------------------


def canonical_edges(edge_index: torch.Tensor, num_nodes: int, *, where: str = "edge_index") -> torch.Tensor:
    """Validate and canonicalize (2, E) edges: undirected, no duplicates, no self-loops, sorted.

    Raises DataError naming ``where`` for a wrong shape, non-integer or out-of-range ids.
    """
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise DataError(f"{where}: expected shape (2, num_edges), got {tuple(edge_index.shape)}")
    if edge_index.is_floating_point():
        raise DataError(f"{where}: node ids must be integers, got {edge_index.dtype}")
    edge_index = edge_index.long()
    if edge_index.numel():
        lo, hi = int(edge_index.min()), int(edge_index.max())
        if lo < 0 or hi >= num_nodes:
            bad = lo if lo < 0 else hi
            raise DataError(
                f"{where}: node id {bad} out of range; the graph has {num_nodes} nodes (ids 0..{num_nodes - 1})"
            )
    src, dst = edge_index
    src, dst = torch.cat([src, dst]), torch.cat([dst, src])  # both directions
    keep = src != dst  # self-loops are dropped: every model adds its own
    key = torch.unique(src[keep] * num_nodes + dst[keep])  # sorted, duplicates merged
    return torch.stack([key // num_nodes, key % num_nodes])  # (2, E')


def _info(
    name: str, version: str, *, num_features: int, classes: list[str], splits: dict[str, int], note: str
) -> DataInfo:
    return DataInfo(
        name=name,
        version=version,
        task="classify",
        input_shape=(num_features,),
        num_classes=len(classes),
        class_names=tuple(classes),
        splits=splits,
        split_note=note,
    )


def _root(root: str, default: str) -> Path:
    return Path(root).expanduser() if root else data_root() / default


# -- Planetoid ----------------------------------------------------------------------------------

PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data/"
PLANETOID_MIRROR = "https://github.com/tkipf/gcn/raw/master/gcn/data/"
PLANETOID_PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
#: sha256 of the published files, by name (a name not listed here is read from disk unverified)
PLANETOID_SHA256 = {
    "cora": {
        "x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
        "y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
        "tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
        "ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
        "allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
        "ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
        "graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
        "test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    },
}
PLANETOID_CLASSES = {
    "cora": [
        "Case_Based",
        "Genetic_Algorithms",
        "Neural_Networks",
        "Probabilistic_Methods",
        "Reinforcement_Learning",
        "Rule_Learning",
        "Theory",
    ],
}
#: what a Planetoid pickle may contain; anything else is refused before it is built
_SAFE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("_codecs", "encode"),
    ("collections", "defaultdict"),
    ("__builtin__", "list"),
    ("builtins", "list"),
    ("__builtin__", "set"),
    ("builtins", "set"),
    ("scipy.sparse.csr", "csr_matrix"),
    ("scipy.sparse._csr", "csr_matrix"),
    ("scipy.sparse", "csr_matrix"),
    ("scipy.sparse.lil", "lil_matrix"),
    ("scipy.sparse._lil", "lil_matrix"),
    ("scipy.sparse", "lil_matrix"),
    ("scipy.sparse.csc", "csc_matrix"),
    ("scipy.sparse._csc", "csc_matrix"),
    ("scipy.sparse", "csc_matrix"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} (a Planetoid file holds only "
                "numpy arrays, scipy sparse matrices and dict/list adjacency)"
            )
        if module == "__builtin__":
            module = "builtins"
        if module.startswith("scipy.sparse"):
            module = "scipy.sparse"
            import scipy.sparse  # noqa: F401  (pickle imports it by name)
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _unpickle(path: Path):  # noqa: ANN202
    try:
        with open(path, "rb") as f:
            return _SafeUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError) as e:
        raise DataError(f"{path}: not a Planetoid pickle ({type(e).__name__}: {e})") from None


def _dense(m, path: Path) -> np.ndarray:  # noqa: ANN001
    arr = m.toarray() if hasattr(m, "toarray") else np.asarray(m)
    if arr.ndim != 2:
        raise DataError(f"{path}: expected a 2-D matrix, got shape {arr.shape}")
    return arr.astype(np.float32)


def _planetoid_files(name: str, root: str) -> dict[str, Path]:
    folder = _root(root, "planetoid")
    sums = PLANETOID_SHA256.get(name)
    paths = {}
    for part in PLANETOID_PARTS:
        filename = f"ind.{name}.{part}"
        if sums is not None:  # a published graph: verified, downloaded when missing
            res = Resource(filename, PLANETOID_URL + filename, sums[part], mirrors=(PLANETOID_MIRROR + filename,))
            paths[part] = fetch(res, folder=folder.name, root=folder.parent)
        else:
            paths[part] = folder / filename
            if not paths[part].is_file():
                raise DataError(
                    f"{paths[part]}: missing; the Planetoid format needs ind.{name}."
                    f"{{{','.join(PLANETOID_PARTS)}}} in {folder} (set data.root or DLZOO_DATA)"
                )
    return paths


def read_planetoid(name: str, root: str = "", *, normalize_features: bool = True) -> NodeData:
    """Read ``ind.<name>.*`` with the standard public split (as Kipf & Welling's ``load_data``)."""
    paths = _planetoid_files(name, root)
    x, tx, allx = (_dense(_unpickle(paths[k]), paths[k]) for k in ("x", "tx", "allx"))
    y, ty, ally = (_dense(_unpickle(paths[k]), paths[k]) for k in ("y", "ty", "ally"))
    adjacency = _unpickle(paths["graph"])
    if not isinstance(adjacency, dict):
        raise DataError(f"{paths['graph']}: expected a dict node -> list of neighbours, got {type(adjacency).__name__}")
    test_idx = []
    for i, line in enumerate(paths["test.index"].read_text().splitlines(), 1):
        if line.strip():
            try:
                test_idx.append(int(line))
            except ValueError:
                raise DataError(f"{paths['test.index']} line {i}: expected a node id, got {line!r}") from None
    for a, b, what in ((x, y, "x/y"), (tx, ty, "tx/ty"), (allx, ally, "allx/ally")):
        if len(a) != len(b):
            raise DataError(
                f"{paths['x'].parent}: ind.{name}.{what} have {len(a)} feature rows but {len(b)} label rows"
            )
    if len(tx) != len(test_idx):
        raise DataError(f"{paths['test.index']}: {len(test_idx)} test ids for {len(tx)} rows of ind.{name}.tx")
    # test nodes sit at the ids of test.index; some ids may be missing (citeseer): they get zero rows
    n_test_range = max(test_idx) - min(test_idx) + 1
    tx_full = np.zeros((n_test_range, tx.shape[1]), np.float32)
    ty_full = np.zeros((n_test_range, ty.shape[1]), np.float32)
    tx_full[np.array(test_idx) - min(test_idx)], ty_full[np.array(test_idx) - min(test_idx)] = tx, ty
    features = np.concatenate([allx, tx_full])  # (N, F)
    labels = np.concatenate([ally, ty_full])  # (N, C) one-hot
    n = len(features)
    if len(allx) != min(test_idx):
        raise DataError(
            f"{paths['test.index']}: the first test id is {min(test_idx)}, expected {len(allx)} "
            f"(the number of rows of ind.{name}.allx)"
        )
    src, dst = [], []
    for u, neighbours in adjacency.items():
        for v in neighbours:
            src.append(int(u))
            dst.append(int(v))
    edge_index = canonical_edges(
        torch.tensor([src, dst], dtype=torch.long).reshape(2, -1), n, where=str(paths["graph"])
    )
    xt = torch.from_numpy(features)
    if normalize_features:  # row-normalize: each node's features sum to 1 (Kipf & Welling's preprocessing)
        xt = xt / xt.sum(1, keepdim=True).clamp(min=1e-12)
    yt = torch.from_numpy(labels.argmax(1)).long()
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    masks[0][: len(y)] = True
    masks[1][len(y) : len(y) + 500] = True
    masks[2][torch.tensor(test_idx)] = True
    classes = PLANETOID_CLASSES.get(name, [str(c) for c in range(labels.shape[1])])
    splits = {k: int(m.sum()) for k, m in zip(("train", "val", "test"), masks, strict=True)}
    note = (
        f"Planetoid public split: {splits['train']} labelled train nodes (ind.{name}.y), the next 500 val, "
        f"{splits['test']} test nodes (ind.{name}.test.index); transductive"
    )
    info = _info(name, f"planetoid-{name}", num_features=features.shape[1], classes=classes, splits=splits, note=note)
    return NodeData(Graph(xt, edge_index, yt), masks[0], masks[1], masks[2], info)


@register_dataset("planetoid", modality="graphs")
def planetoid(*, dataset: str = "cora", root: str = "", normalize_features: bool = True) -> NodeData:
    """Any Planetoid graph ``ind.<dataset>.*`` under ``root`` (default ``$DLZOO_DATA/planetoid``)."""
    return read_planetoid(dataset, root, normalize_features=normalize_features)


@register_dataset("cora", modality="graphs")
def cora(*, root: str = "", normalize_features: bool = True) -> NodeData:
    """Cora citation graph (Sen et al. 2008): 2708 papers, 1433 word features, 7 topics; public split."""
    return read_planetoid("cora", root, normalize_features=normalize_features)


# -- TUDataset ----------------------------------------------------------------------------------


def _read_table(path: Path, *, cols: int | None, kind: type, what: str) -> np.ndarray:
    """A comma-separated text table; a bad line raises DataError naming the file and line."""
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            row = [kind(p) for p in parts]
        except ValueError:
            raise DataError(f"{path} line {i}: expected {what}, got {line.strip()!r}") from None
        if cols is not None and len(row) != cols:
            raise DataError(f"{path} line {i}: expected {what} ({cols} value(s)), got {line.strip()!r}")
        if rows and len(row) != len(rows[0]):
            raise DataError(f"{path} line {i}: expected {len(rows[0])} values like line 1, got {len(row)}")
        rows.append(row)
    return np.array(rows, dtype=np.float32 if kind is float else np.int64).reshape(len(rows), -1)


def read_tu(name: str, root: str = "", *, attributes: bool = True) -> tuple[list[Graph], list[str], int]:
    """All graphs of a TU dataset, the class names (sorted original labels) and the number of continuous
    node-attribute columns: the last columns of every ``x``, after the one-hot node labels (0 without
    ``_node_attributes.txt``, or with ``attributes=False``, which leaves them out)."""
    folder = _root(root, name)
    if not (folder / f"{name}_A.txt").is_file() and (folder / "raw" / f"{name}_A.txt").is_file():
        folder = folder / "raw"
    path = lambda part: folder / f"{name}_{part}.txt"  # noqa: E731
    for part in ("A", "graph_indicator", "graph_labels"):
        if not path(part).is_file():
            raise DataError(
                f"{path(part)}: missing; the TU format needs {name}_A.txt, {name}_graph_indicator.txt "
                f"and {name}_graph_labels.txt in {folder} (set data.root or DLZOO_DATA)"
            )
    indicator = _read_table(path("graph_indicator"), cols=1, kind=int, what="a 1-based graph id")[:, 0]
    labels = _read_table(path("graph_labels"), cols=1, kind=int, what="an integer graph label")[:, 0]
    edges = _read_table(path("A"), cols=2, kind=int, what="'i, j' 1-based node ids")
    n, g = len(indicator), len(labels)
    if n == 0 or g == 0:
        raise DataError(f"{folder}: {name} has {n} nodes and {g} graphs; expected at least one of each")
    if indicator.min() < 1 or indicator.max() > g or np.any(np.diff(indicator) < 0):
        raise DataError(
            f"{path('graph_indicator')}: expected non-decreasing graph ids in 1..{g} (one per node), "
            f"got ids {indicator.min()}..{indicator.max()}"
        )
    empty = np.setdiff1d(np.arange(1, g + 1), indicator)
    if len(empty):
        raise DataError(
            f"{path('graph_indicator')}: graph {empty[0]} has no nodes ({name}_graph_labels.txt lists {g} graphs)"
        )
    if len(edges) and (edges.min() < 1 or edges.max() > n):
        bad = int(np.argmax((edges.min(1) < 1) | (edges.max(1) > n))) + 1
        raise DataError(f"{path('A')}: edge row {bad} has a node id outside 1..{n} (the number of nodes)")
    feats = []
    if path("node_labels").is_file():
        node_labels = _read_table(path("node_labels"), cols=None, kind=int, what="integer node labels")[:, 0]
        if len(node_labels) != n:
            raise DataError(f"{path('node_labels')}: {len(node_labels)} rows for {n} nodes")
        values = np.unique(node_labels)
        feats.append(np.eye(len(values), dtype=np.float32)[np.searchsorted(values, node_labels)])  # one-hot
    n_attr = 0
    if attributes and path("node_attributes").is_file():
        attrs = _read_table(path("node_attributes"), cols=None, kind=float, what="comma-separated numbers")
        if len(attrs) != n:
            raise DataError(f"{path('node_attributes')}: {len(attrs)} rows for {n} nodes")
        feats.append(attrs)
        n_attr = attrs.shape[1]
    x = np.concatenate(feats, 1) if feats else np.ones((n, 1), np.float32)  # no features: a constant 1
    classes = np.unique(labels)
    y = np.searchsorted(classes, labels)
    graph_of = indicator - 1  # (N,) 0-based graph id of each node
    starts = np.searchsorted(graph_of, np.arange(g))  # first node of each graph
    sizes = np.bincount(graph_of, minlength=g)
    e = edges - 1
    if len(e) and np.any(graph_of[e[:, 0]] != graph_of[e[:, 1]]):
        bad = int(np.argmax(graph_of[e[:, 0]] != graph_of[e[:, 1]])) + 1
        raise DataError(f"{path('A')}: edge row {bad} joins nodes of two different graphs")
    edge_graph = graph_of[e[:, 0]] if len(e) else np.zeros(0, np.int64)
    xt = torch.from_numpy(x)
    graphs = []
    for k in range(g):
        local = torch.from_numpy(e[edge_graph == k] - starts[k]).T.reshape(2, -1)
        ei = canonical_edges(local, int(sizes[k]), where=f"{path('A')} (graph {k + 1})")
        graphs.append(Graph(xt[starts[k] : starts[k] + sizes[k]], ei, torch.tensor(int(y[k]))))
    return graphs, [str(c) for c in classes], n_attr


NODE_ATTRIBUTES = ("standardize", "raw", "drop")


def standardize_attributes(train: list[Graph], graphs: list[Graph], n_attr: int) -> tuple[list[Graph], str]:
    """z-score the last ``n_attr`` feature columns of ``graphs`` with the mean and standard deviation
    over every node of the ``train`` graphs (a constant column is only centred). Returns the new graphs
    and a note of the statistics used."""
    if n_attr == 0:
        return graphs, ""
    cols = torch.cat([g.x[:, -n_attr:] for g in train]).double()  # (N_train_nodes, n_attr)
    mean, std = cols.mean(0), cols.std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    out = []
    for g in graphs:
        x = g.x.clone()
        x[:, -n_attr:] = ((x[:, -n_attr:].double() - mean) / std).float()
        out.append(Graph(x, g.edge_index, g.y))
    return out, f"{n_attr} continuous node attribute(s) standardised with the training graphs' mean and std"


@register_dataset("tudataset", modality="graphs")
def tudataset(
    *,
    dataset: str = "MUTAG",
    root: str = "",
    fold: int = 0,
    folds: int = 10,
    split_seed: int = 0,
    val_is_test: bool = False,
    val_fraction: float = 0.0,
    node_attributes: str = "standardize",
) -> GraphSetData:
    """Any TU graph-classification set ``<dataset>_*.txt``; fold ``fold`` of stratified ``folds``-fold CV.

    ``val_is_test`` reports the held-out fold as "val" every epoch too: the GIN paper's protocol
    (Xu et al. 2019, Sec. 7), which picks the epoch of best mean fold accuracy; off by default.
    ``val_fraction`` holds out that stratified fraction of the training fold as "val" instead
    (``split_seed``): an honest split for early stopping, the test fold never seen before the end.
    ``node_attributes``: what to do with continuous ``_node_attributes.txt`` columns (PROTEINS' raw
    attribute spans about -540..800): "standardize" (z-score with the mean and std of the fold's
    training graphs only, default), "raw" (as in the file), or "drop" (leave them out). One-hot node
    labels are never changed.
    """
    from sklearn.model_selection import StratifiedKFold

    name = dataset
    if node_attributes not in NODE_ATTRIBUTES:
        raise DataError(f"unknown node_attributes {node_attributes!r}; valid: {list(NODE_ATTRIBUTES)}")
    graphs, classes, n_attr = read_tu(name, root, attributes=node_attributes != "drop")
    if not 2 <= folds <= len(graphs):
        raise DataError(f"folds must be in 2..{len(graphs)} (the number of graphs), got {folds}")
    if not 0 <= fold < folds:
        raise DataError(f"fold must be in 0..{folds - 1}, got {fold}")
    y = np.array([int(gr.y) for gr in graphs])
    if np.bincount(y).min() < folds:
        raise DataError(f"{name}: the smallest class has {np.bincount(y).min()} graphs, fewer than folds={folds}")
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=split_seed)
    train_idx, test_idx = list(cv.split(np.zeros(len(y)), y))[fold]
    if not 0 <= val_fraction < 1:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if val_fraction and val_is_test:
        raise DataError("val_fraction and val_is_test both choose the val split; set one")
    val: list[Graph] | None = None
    if val_fraction:
        from sklearn.model_selection import train_test_split

        train_idx, val_idx = train_test_split(
            train_idx, test_size=val_fraction, stratify=y[train_idx], random_state=split_seed
        )
        val = [graphs[i] for i in val_idx]
    train, test = [graphs[i] for i in train_idx], [graphs[i] for i in test_idx]
    splits = {"train": len(train), "test": len(test)}
    note = f"fold {fold} of stratified {folds}-fold CV (StratifiedKFold shuffle, random_state={split_seed})"
    if val is not None:
        splits["val"] = len(val)
        note += f"; val = a stratified {val_fraction:g} of the training fold (random_state={split_seed})"
    if node_attributes == "standardize" and n_attr:
        test, _ = standardize_attributes(train, test, n_attr)  # the training graphs' statistics for all
        val = standardize_attributes(train, val, n_attr)[0] if val is not None else None
        train, how = standardize_attributes(train, train, n_attr)
        note += f"; {how}"
    elif n_attr:
        note += f"; {n_attr} continuous node attribute(s) raw"
    if val_is_test:
        splits["val"] = len(test)
        note += "; val = the test fold (GIN paper protocol)"
    version = f"tu-{name}" + (
        "" if node_attributes == "standardize" or not n_attr else f"/attributes={node_attributes}"
    )
    info = _info(name.lower(), version, num_features=graphs[0].x.shape[1], classes=classes, splits=splits, note=note)
    return GraphSetData(train, test if val_is_test else val, test, info)


@register_dataset("mutag", modality="graphs")
def mutag(
    *,
    root: str = "",
    fold: int = 0,
    folds: int = 10,
    split_seed: int = 0,
    val_is_test: bool = False,
    val_fraction: float = 0.0,
) -> GraphSetData:  # MUTAG has one-hot atom types only: no continuous attributes to scale
    """MUTAG (Debnath et al. 1991): 188 nitro compounds, 7 atom types one-hot, mutagenic or not."""
    return tudataset(
        dataset="MUTAG",
        root=root,
        fold=fold,
        folds=folds,
        split_seed=split_seed,
        val_is_test=val_is_test,
        val_fraction=val_fraction,
    )


# -- networkx -----------------------------------------------------------------------------------


def from_networkx(g, *, label: str, features: str | None = None) -> tuple[Graph, list[str]]:  # noqa: ANN001
    """A networkx graph with a node attribute ``label`` -> Graph (features: attribute, else one-hot ids)."""
    nodes = list(g.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    missing = [v for v in nodes if label not in g.nodes[v]]
    if missing:
        raise DataError(f"networkx graph: node {missing[0]!r} has no {label!r} attribute")
    classes = sorted({str(g.nodes[v][label]) for v in nodes})
    y = torch.tensor([classes.index(str(g.nodes[v][label])) for v in nodes])
    if features is None:
        x = torch.eye(len(nodes))  # featureless: one-hot node identity (Kipf & Welling's karate example)
    else:
        x = torch.tensor([list(np.atleast_1d(g.nodes[v][features])) for v in nodes], dtype=torch.float32)
    pairs = torch.tensor([[index[u], index[v]] for u, v in g.edges], dtype=torch.long).reshape(-1, 2).T
    return Graph(x, canonical_edges(pairs, len(nodes), where="networkx graph"), y), classes


@register_dataset("karate", modality="graphs")
def karate(*, train_per_class: int = 4, val_size: int = 6, split_seed: int = 0) -> NodeData:
    """Zachary's karate club (networkx): 34 members, 78 ties, which club each joined; one-hot features."""
    import networkx as nx

    graph, classes = from_networkx(nx.karate_club_graph(), label="club")
    n = graph.num_nodes
    gen = torch.Generator().manual_seed(split_seed)
    order = torch.randperm(n, generator=gen)
    train = torch.zeros(n, dtype=torch.bool)
    for c in range(len(classes)):
        members = order[graph.y[order] == c]
        if len(members) <= train_per_class:
            raise DataError(
                f"train_per_class must be below {len(members)} (members of {classes[c]}), got {train_per_class}"
            )
        train[members[:train_per_class]] = True
    rest = order[~train[order]]
    if not 0 <= val_size < len(rest):
        raise DataError(f"val_size must be in 0..{len(rest) - 1}, got {val_size}")
    val = torch.zeros(n, dtype=torch.bool)
    val[rest[:val_size]] = True
    test = ~(train | val)
    splits = {"train": int(train.sum()), "val": int(val.sum()), "test": int(test.sum())}
    note = f"{train_per_class} train nodes per club, {val_size} val, rest test; split_seed={split_seed}"
    info = _info("karate", f"networkx-{nx.__version__}", num_features=n, classes=classes, splits=splits, note=note)
    return NodeData(graph, train, val if val_size else None, test, info)


@register_dataset("graph_shapes", modality="graphs")
def graph_shapes(
    *,
    num_graphs: int = 120,
    min_nodes: int = 4,
    max_nodes: int = 12,
    fold: int = 0,
    folds: int = 10,
    split_seed: int = 0,
) -> GraphSetData:
    """Synthetic graph classification (offline default): cycle, star or path graphs of random size.

    Node features are a constant 1, so only the structure tells the classes apart (a sum-aggregating
    GNN sees the degree multiset: cycles all 2s, paths two 1s, stars one hub). Fold splits as TU.
    """
    import networkx as nx
    from sklearn.model_selection import StratifiedKFold

    if not 3 <= min_nodes <= max_nodes:
        raise DataError(f"need 3 <= min_nodes <= max_nodes, got min_nodes={min_nodes}, max_nodes={max_nodes}")
    if num_graphs < 3 * folds:
        raise DataError(f"num_graphs must be at least 3 * folds = {3 * folds}, got {num_graphs}")
    if not 0 <= fold < folds:
        raise DataError(f"fold must be in 0..{folds - 1}, got {fold}")
    classes = ["cycle", "star", "path"]
    makers = [nx.cycle_graph, lambda n: nx.star_graph(n - 1), nx.path_graph]
    gen = np.random.default_rng(split_seed)
    graphs = []
    for i in range(num_graphs):
        c, n = i % 3, int(gen.integers(min_nodes, max_nodes + 1))
        g = makers[c](n)
        pairs = torch.tensor(list(g.edges), dtype=torch.long).T
        graphs.append(Graph(torch.ones(n, 1), canonical_edges(pairs, n, where="graph_shapes"), torch.tensor(c)))
    y = np.array([int(g.y) for g in graphs])
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=split_seed)
    train_idx, test_idx = list(cv.split(np.zeros(len(y)), y))[fold]
    info = _info(
        "graph_shapes",
        f"networkx-{nx.__version__}",
        num_features=1,
        classes=classes,
        splits={"train": len(train_idx), "test": len(test_idx)},
        note=f"fold {fold} of stratified {folds}-fold CV, split_seed={split_seed}",
    )
    return GraphSetData([graphs[i] for i in train_idx], None, [graphs[i] for i in test_idx], info)
