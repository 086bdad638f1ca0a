"""The playground's APIs: a run's card and plots (only the files the run lists, names validated), the
node classification of a posted graph (gnn), and the fast input path of batched verbs (rows.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from fastapi.testclient import TestClient

from dlzoo.serve import create_app
from dlzoo.serve.rows import Rows, join, prepare
from dlzoo.validation import InputError, as_batch

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def root(train_tiny, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cards")
    shutil.copytree(train_tiny("mlp_classifier"), root / "mlp" / "r")
    shutil.copytree(train_tiny("gcn"), root / "gcn" / "r")
    bare = root / "bare" / "r"  # a run without card.md or plots/
    shutil.copytree(train_tiny("mlp_regressor"), bare)
    (bare / "card.md").unlink()
    shutil.rmtree(bare / "plots", ignore_errors=True)
    outside = root.parent / f"{root.name}-secret.png"  # a PNG outside the run, linked into its plots/
    outside.write_bytes(PNG + b"secret")
    (root / "mlp" / "r" / "plots" / "linked.png").symlink_to(outside)
    (root / "mlp" / "r" / "plots" / "notes.txt").write_text("not a plot")
    return root


@pytest.fixture(scope="module")
def client(root: Path):
    with TestClient(create_app(root)) as c:
        yield c


def test_the_card_lists_the_runs_plots_and_each_plot_is_its_png(client: TestClient) -> None:
    r = client.get("/v1/models/mlp_classifier/card")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "mlp_classifier@r" and body["info"]["model"] == "mlp_classifier"
    assert "mlp_classifier" in body["card"]
    names = [p["name"] for p in body["plots"]]
    assert "learning_curves.png" in names
    assert "linked.png" not in names and "notes.txt" not in names  # a symlink and a non-PNG are not listed
    for plot in body["plots"]:
        png = client.get(plot["url"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content.startswith(PNG) and len(png.content) == plot["bytes"]


def test_a_run_without_card_or_plots(client: TestClient) -> None:
    body = client.get("/v1/models/mlp_regressor/card").json()
    assert body["card"] is None and body["plots"] == [] and body["info"]["task"] == "regress"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/models/nope/card", 404),
        ("/v1/models/nope/plots/learning_curves.png", 404),
        ("/v1/models/mlp_classifier/plots/missing.png", 404),  # a plain name the run does not list
        ("/v1/models/mlp_classifier/plots/linked.png", 404),  # a symlink out of the run
        ("/v1/models/mlp_classifier/plots/notes.txt", 422),  # not a PNG name
        ("/v1/models/mlp_classifier/plots/.hidden.png", 422),
        ("/v1/models/mlp_classifier/plots/..%2F..%2Fconfig.yaml", 404),
        ("/v1/models/mlp_classifier/plots/%2E%2E%2Fcard.md", 404),
        ("/v1/models/mlp_classifier/plots/a%5Cb.png", 422),  # a backslash
        ("/v1/models/mlp_classifier/plots/" + "a" * 200 + ".png", 422),
    ],
)
def test_only_listed_plots_can_be_fetched(client: TestClient, path: str, status: int) -> None:
    r = client.get(path)
    assert r.status_code == status, (path, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json") and "secret" not in r.text
    if status == 404 and "missing" in path:
        assert "learning_curves.png" in r.json()["detail"]  # says which plots there are


def test_a_plots_folder_linked_elsewhere_is_not_listed(train_tiny, tmp_path: Path) -> None:
    run = tmp_path / "runs" / "r"
    shutil.copytree(train_tiny("mlp_classifier"), run)
    shutil.move(run / "plots", tmp_path / "elsewhere")
    (run / "plots").symlink_to(tmp_path / "elsewhere")
    with TestClient(create_app(tmp_path / "runs")) as c:
        assert c.get("/v1/models/mlp_classifier/card").json()["plots"] == []
        assert c.get("/v1/models/mlp_classifier/plots/learning_curves.png").status_code == 404


def test_card_needs_the_key(root: Path) -> None:
    with TestClient(create_app(root, api_key="k")) as c:
        assert c.get("/v1/models/mlp_classifier/card").status_code == 401
        assert c.get("/v1/models/mlp_classifier/plots/learning_curves.png").status_code == 401
        ok = c.get("/v1/models/mlp_classifier/plots/learning_curves.png", headers={"Authorization": "Bearer k"})
        assert ok.status_code == 200


def test_the_info_carries_the_request_body_of_own_verbs(client: TestClient) -> None:
    info = client.get("/v1/models/gcn").json()
    assert "graph" in info["bodies"]["predict"]["properties"]
    assert client.get("/v1/models/mlp_classifier").json()["bodies"] == {}


def test_node_classification_of_a_posted_graph(client: TestClient) -> None:
    f = client.get("/v1/models/gcn").json()["input_shape"][0]
    features = [[1.0 if j == i % f else 0.0 for j in range(f)] for i in range(5)]
    edges = [[0, 1], [1, 2], [3, 4]]
    body = {"nodes": [0, 1, 2, 3, 4], "graph": {"features": features, "edges": edges}}
    r = client.post("/v1/models/gcn/predict", json=body)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["labels"]) == 5 and all(abs(sum(p) - 1) < 1e-5 for p in body["probabilities"])
    # the same nodes on the run's own graph (karate) answer too, and differently shaped requests fail alone
    assert client.post("/v1/models/gcn/predict", json={"nodes": [0, 33]}).status_code == 200
    bad = [
        ({"nodes": [5], "graph": {"features": features, "edges": edges}}, "node id 5 out of range"),
        ({"nodes": [0], "graph": {"features": [[1.0]], "edges": []}}, f"expected {f} features"),
        ({"nodes": [0], "graph": {"features": features, "edges": [[0, 9]]}}, "graph.edges: node id 9"),
        ({"nodes": [0], "graph": {"features": [], "edges": []}}, "features"),
    ]
    for body, says in bad:
        r = client.post("/v1/models/gcn/predict", json=body)
        assert r.status_code == 422 and says in r.json()["detail"], (body, r.text)


def _loaded(shape: list[int], bounds: list[float] | None) -> SimpleNamespace:
    info = {"input_shape": shape, "input_range": bounds, "dataset": "d"}
    return SimpleNamespace(config=SimpleNamespace(info=info), spec=SimpleNamespace(name="m"))


def test_the_fast_input_path_accepts_exactly_what_as_batch_accepts() -> None:
    row = [float(i % 17) for i in range(64)]
    image = [[[(i * 8 + j) / 64 for j in range(8)] for i in range(8)]]
    cases = [
        (_loaded([64], [0, 16]), [row, [row], [row, row], [row, row[:-1]], [], [[]], [row, 3], 5, [[row]]]),
        (_loaded([64], [0, 16]), [[[17.0] * 64], [[16.0000001] * 64], [[True] * 64], [["a"] * 64], [[None] * 64]]),
        (_loaded([64], [0, 16]), [[[float("nan")] + row[1:]], [row[:-1] + [float("inf")]], [[10**400] + row[1:]]]),
        (_loaded([1, 8, 8], [0, 1]), [image, [image], [image, image], [sum(image[0], [])], image[0], [image[0]]]),
        (_loaded([4], None), [[1e38, -1e38, 5, 6], [[3.4028235e38, 1, 2, 3]], [[3.40282357e38, 1, 2, 3]]]),
    ]
    for loaded, datas in cases:
        for data in datas:
            try:
                want: torch.Tensor | str = as_batch(loaded, data)
            except InputError as e:
                want = str(e)
            try:
                got = prepare(loaded, data)
                got = join([got]) if isinstance(got, Rows) else got
            except InputError as e:
                got = str(e)
            if isinstance(want, str) or isinstance(got, str):
                assert want == got, data
            else:
                assert torch.equal(want, got), data
    two = join([prepare(cases[0][0], [row]), prepare(cases[0][0], [row, row])])
    assert two.shape == (3, 64) and torch.equal(two[2], torch.tensor(row))
