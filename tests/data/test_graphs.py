"""Graph loaders: Planetoid and TU files written here in their canonical formats, karate, bad input."""

from __future__ import annotations

import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from dlzoo.data import DataError, load_dataset
from dlzoo.data.graphs import Graph, canonical_edges, collate


# -- Planetoid ------------------------------------------------------------------------------------


def write_planetoid(
    root: Path,
    name: str = "toy",
    *,
    n_train: int = 6,
    n_other: int = 510,
    n_test: int = 8,
    classes: int = 3,
    feats: int = 5,
    edges: list[tuple[int, int]] | None = None,
) -> dict:
    """ind.<name>.* as Kipf & Welling's files: x/y the first n_train nodes, allx/ally every non-test node,
    tx/ty the test nodes at the (shuffled) ids of test.index, graph a dict node -> neighbour list."""
    rng = np.random.default_rng(0)
    n_all = n_train + n_other
    n = n_all + n_test
    features = (rng.random((n, feats)) < 0.4).astype(np.float32)
    labels = rng.integers(0, classes, n)
    onehot = np.eye(classes, dtype=np.float32)[labels]
    test_ids = rng.permutation(np.arange(n_all, n))
    graph = defaultdict(list)
    for u, v in edges if edges is not None else [(i, (i + 1) % n) for i in range(n)]:
        graph[u].append(v)
    parts = {
        "x": sp.csr_matrix(features[:n_train]),
        "y": onehot[:n_train],
        "allx": sp.csr_matrix(features[:n_all]),
        "ally": onehot[:n_all],
        "tx": sp.csr_matrix(features[test_ids]),
        "ty": onehot[test_ids],
        "graph": graph,
    }
    root.mkdir(parents=True, exist_ok=True)
    for k, v in parts.items():
        with open(root / f"ind.{name}.{k}", "wb") as f:
            pickle.dump(v, f, protocol=2)
    (root / f"ind.{name}.test.index").write_text("\n".join(map(str, test_ids)) + "\n")
    return {"features": features, "labels": labels, "n": n, "test_ids": test_ids}


def test_planetoid_reads_any_name_with_the_public_split(tmp_path: Path) -> None:
    truth = write_planetoid(tmp_path, "toy")
    data = load_dataset("planetoid", dataset="toy", root=str(tmp_path), normalize_features=False)
    g = data.graph
    assert g.x.shape == (truth["n"], 5) and data.info.num_classes == 3
    # test nodes are put back at the ids of test.index
    torch.testing.assert_close(g.x, torch.from_numpy(truth["features"]))
    assert g.y.tolist() == truth["labels"].tolist()
    assert data.info.splits == {"train": 6, "val": 500, "test": 8}
    assert data.train_mask[:6].all() and data.val_mask[6:506].all() and data.test_mask[truth["test_ids"]].all()
    # the ring becomes undirected: every node has two neighbours
    assert g.edge_index.shape == (2, 2 * truth["n"])
    assert torch.bincount(g.edge_index[1]).eq(2).all()


def test_planetoid_row_normalizes_features_by_default(tmp_path: Path) -> None:
    write_planetoid(tmp_path, "toy")
    x = load_dataset("planetoid", dataset="toy", root=str(tmp_path)).graph.x
    nonzero = x.sum(1) > 0
    torch.testing.assert_close(x.sum(1)[nonzero], torch.ones(int(nonzero.sum())))


def test_planetoid_refuses_pickles_that_would_run_code(tmp_path: Path) -> None:
    write_planetoid(tmp_path, "toy")

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    with open(tmp_path / "ind.toy.graph", "wb") as f:
        pickle.dump(Evil(), f, protocol=2)
    with pytest.raises(DataError, match=r"refusing to load (__builtin__|builtins)\.print"):
        load_dataset("planetoid", dataset="toy", root=str(tmp_path))


def test_planetoid_missing_file_and_bad_edges_are_named(tmp_path: Path) -> None:
    write_planetoid(tmp_path, "toy")
    (tmp_path / "ind.toy.ty").unlink()
    with pytest.raises(DataError, match=r"ind\.toy\.ty: missing"):
        load_dataset("planetoid", dataset="toy", root=str(tmp_path))
    write_planetoid(tmp_path, "bad", edges=[(0, 1), (3, 9999)])
    with pytest.raises(DataError, match=r"ind\.bad\.graph: node id 9999 out of range; the graph has 524 nodes"):
        load_dataset("planetoid", dataset="bad", root=str(tmp_path))


def test_planetoid_mismatched_feature_and_label_rows(tmp_path: Path) -> None:
    write_planetoid(tmp_path, "toy")
    with open(tmp_path / "ind.toy.ally", "wb") as f:
        pickle.dump(np.zeros((3, 3), np.float32), f, protocol=2)
    with pytest.raises(DataError, match="allx/ally have 516 feature rows but 3 label rows"):
        load_dataset("planetoid", dataset="toy", root=str(tmp_path))


# -- TU -------------------------------------------------------------------------------------------


def write_tu(root: Path, name: str = "TOY", *, graphs: int = 20) -> list[tuple[int, list[tuple[int, int]], int]]:
    """TU files for ``graphs`` graphs alternating triangles (label 1) and 4-paths (label -1)."""
    folder = root / name
    folder.mkdir(parents=True)
    a, ind, glab, nlab, spec, offset = [], [], [], [], [], 0
    for k in range(graphs):
        tri = k % 2 == 0
        n, edges = (3, [(0, 1), (1, 2), (2, 0)]) if tri else (4, [(0, 1), (1, 2), (2, 3)])
        for u, v in edges:  # TU lists both directions, 1-based
            a += [f"{u + offset + 1}, {v + offset + 1}", f"{v + offset + 1}, {u + offset + 1}"]
        ind += [str(k + 1)] * n
        nlab += [str(i % 2) for i in range(n)]
        glab.append("1" if tri else "-1")
        spec.append((n, edges, 1 if tri else 0))
        offset += n
    for part, lines in (("A", a), ("graph_indicator", ind), ("graph_labels", glab), ("node_labels", nlab)):
        (folder / f"{name}_{part}.txt").write_text("\n".join(lines) + "\n")
    return spec


def test_tu_reads_graphs_features_and_folds(tmp_path: Path) -> None:
    spec = write_tu(tmp_path)
    data = load_dataset("tudataset", dataset="TOY", root=str(tmp_path / "TOY"), fold=0, folds=5)
    assert data.info.class_names == ("-1", "1") and data.info.input_shape == (2,)
    assert len(data.train) == 16 and len(data.test) == 4 and data.val is None
    # folds partition the graphs, stratified: each test fold holds 2 of each class
    seen = []
    for fold in range(5):
        d = load_dataset("tudataset", dataset="TOY", root=str(tmp_path / "TOY"), fold=fold, folds=5)
        assert sorted(int(g.y) for g in d.test) == [0, 0, 1, 1]
        seen += [id(g) for g in d.test]
    triangle = next(g for g in data.train if int(g.y) == 1)
    assert triangle.num_nodes == 3 and triangle.edge_index.shape == (2, 6)
    torch.testing.assert_close(triangle.x, torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))  # one-hot node labels
    assert sum(n for n, _, _ in spec) == sum(g.num_nodes for g in data.train + data.test)


def test_tu_continuous_attributes_are_standardised_with_the_training_fold(tmp_path: Path) -> None:
    write_tu(tmp_path)
    n_nodes = sum(
        len(line.strip()) > 0 for line in (tmp_path / "TOY" / "TOY_graph_indicator.txt").read_text().splitlines()
    )
    raw = np.linspace(-540.0, 800.0, n_nodes)  # PROTEINS' raw attribute range
    (tmp_path / "TOY" / "TOY_node_attributes.txt").write_text("\n".join(f"{v:.3f}" for v in raw) + "\n")
    kw = {"dataset": "TOY", "root": str(tmp_path / "TOY"), "folds": 5}
    data = load_dataset("tudataset", **kw)
    assert data.info.input_shape == (3,)  # 2 one-hot node labels + 1 attribute
    train_attr = torch.cat([g.x[:, -1] for g in data.train])
    assert abs(float(train_attr.mean())) < 1e-5 and abs(float(train_attr.std(unbiased=False)) - 1) < 1e-5
    test_attr = torch.cat([g.x[:, -1] for g in data.test])
    raw_data = load_dataset("tudataset", node_attributes="raw", **kw)
    raw_train = torch.cat([g.x[:, -1] for g in raw_data.train]).double()
    raw_test = torch.cat([g.x[:, -1] for g in raw_data.test]).double()
    expected = (raw_test - raw_train.mean()) / raw_train.std(unbiased=False)  # the test fold: the train statistics
    assert torch.allclose(test_attr.double(), expected, atol=1e-5)
    assert float(raw_train.max()) > 700 and "standardised" in data.info.split_note
    assert torch.equal(torch.cat([g.x[:, :2] for g in data.train]), torch.cat([g.x[:, :2] for g in raw_data.train]))
    dropped = load_dataset("tudataset", node_attributes="drop", **kw)
    assert dropped.info.input_shape == (2,)
    with pytest.raises(DataError, match="valid: \\['standardize', 'raw', 'drop'\\]"):
        load_dataset("tudataset", node_attributes="scale", **kw)


def test_tu_val_fraction_holds_out_part_of_the_training_fold(tmp_path: Path) -> None:
    write_tu(tmp_path, graphs=40)
    kw = {"dataset": "TOY", "root": str(tmp_path / "TOY"), "folds": 5}
    full = load_dataset("tudataset", **kw)
    data = load_dataset("tudataset", val_fraction=0.25, **kw)
    assert data.val is not None and data.info.splits == {"train": 24, "test": 8, "val": 8}
    assert full.val is None and len(full.train) == 32 and "val = a stratified 0.25" in data.info.split_note
    assert sorted(int(g.y) for g in data.val) == [0] * 4 + [1] * 4  # stratified
    with pytest.raises(DataError, match="set one"):
        load_dataset("tudataset", val_fraction=0.25, val_is_test=True, **kw)


def test_tu_val_is_test_reports_the_held_out_fold(tmp_path: Path) -> None:
    write_tu(tmp_path)
    data = load_dataset("tudataset", dataset="TOY", root=str(tmp_path / "TOY"), folds=5, val_is_test=True)
    assert data.val is data.test and data.info.splits["val"] == 4


@pytest.mark.parametrize(
    "part,text,match",
    [
        ("A", "1, 2\n2, x\n", r"TOY_A\.txt line 2: expected 'i, j' 1-based node ids, got '2, x'"),
        ("A", "1, 2\n2, 999\n", r"TOY_A\.txt: edge row 2 has a node id outside 1\.\.70"),
        ("A", "1, 2\n3, 4\n", r"TOY_A\.txt: edge row 2 joins nodes of two different graphs"),
        ("node_labels", "0\n1\n", r"TOY_node_labels\.txt: 2 rows for 70 nodes"),
        ("graph_indicator", "1\n3\n2\n", r"expected non-decreasing graph ids in 1\.\.20"),
    ],
)
def test_tu_bad_files_name_the_file_and_line(tmp_path: Path, part: str, text: str, match: str) -> None:
    write_tu(tmp_path)
    (tmp_path / "TOY" / f"TOY_{part}.txt").write_text(text)
    with pytest.raises(DataError, match=match):
        load_dataset("tudataset", dataset="TOY", root=str(tmp_path / "TOY"), folds=5)


def test_tu_bad_fold_and_missing_files(tmp_path: Path) -> None:
    write_tu(tmp_path)
    with pytest.raises(DataError, match=r"fold must be in 0\.\.4, got 5"):
        load_dataset("tudataset", dataset="TOY", root=str(tmp_path / "TOY"), fold=5, folds=5)
    with pytest.raises(DataError, match=r"MUTAG_A\.txt: missing"):
        load_dataset("mutag", root=str(tmp_path / "nowhere"))


# -- networkx and synthetic -----------------------------------------------------------------------


def test_karate_club_offline_default() -> None:
    data = load_dataset("karate")
    g = data.graph
    assert g.num_nodes == 34 and g.edge_index.shape == (2, 156)  # 78 ties, both directions
    assert data.info.class_names == ("Mr. Hi", "Officer")
    assert data.info.splits == {"train": 8, "val": 6, "test": 20}
    assert not (data.train_mask & data.test_mask).any() and (data.train_mask | data.val_mask | data.test_mask).all()
    assert int(g.y[0]) == 0 and int(g.y[33]) == 1  # the instructor and the officer


def test_graph_shapes_is_structural_and_balanced() -> None:
    data = load_dataset("graph_shapes", num_graphs=60, folds=5)
    ys = [int(g.y) for g in data.train + data.test]
    assert sorted(set(ys)) == [0, 1, 2] and ys.count(0) == 20
    star = next(g for g in data.train if int(g.y) == 1)
    degrees = torch.bincount(star.edge_index[1], minlength=star.num_nodes)
    assert int(degrees.max()) == star.num_nodes - 1  # one hub


# -- canonical edges and batching -----------------------------------------------------------------


def test_canonical_edges_symmetrizes_dedups_and_drops_self_loops() -> None:
    ei = torch.tensor([[0, 0, 1, 2, 2], [1, 1, 0, 2, 3]])  # duplicate, both directions, self-loop, directed
    out = canonical_edges(ei, 4)
    assert out.tolist() == [[0, 1, 2, 3], [1, 0, 3, 2]]


@pytest.mark.parametrize(
    "ei,match",
    [
        (torch.tensor([[0, 5]]), r"expected shape \(2, num_edges\)"),
        (torch.tensor([[0], [4]]), r"node id 4 out of range; the graph has 4 nodes \(ids 0\.\.3\)"),
        (torch.tensor([[-1], [0]]), "node id -1 out of range"),
        (torch.tensor([[0.0], [1.0]]), "node ids must be integers"),
    ],
)
def test_canonical_edges_rejects_bad_ids(ei: torch.Tensor, match: str) -> None:
    with pytest.raises(DataError, match=match):
        canonical_edges(ei, 4, where="edges")


def test_isolated_nodes_and_edgeless_graphs_are_kept() -> None:
    assert canonical_edges(torch.zeros(2, 0, dtype=torch.long), 3).shape == (2, 0)
    graphs = [
        Graph(torch.ones(2, 1), torch.zeros(2, 0, dtype=torch.long), torch.tensor(0)),
        Graph(torch.ones(3, 1), torch.tensor([[0, 1], [1, 0]]), torch.tensor(1)),
    ]
    b = collate(graphs)
    assert b.batch.tolist() == [0, 0, 1, 1, 1] and b.edge_index.tolist() == [[2, 3], [3, 2]]
    assert b.y.tolist() == [0, 1] and b.num_graphs == 2
