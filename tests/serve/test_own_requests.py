"""A family's own request bodies (pipeline.requests + pipeline.serve): validation, JSON and streams.

A throwaway model is registered for the duration of the module: a "language-like" pipeline whose
predict takes strings and whose sample streams, as the transformer and graph families do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest
import torch
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from dlzoo import inference, registry
from dlzoo.config import resolve_config
from dlzoo.protocols import Pipeline
from dlzoo.runs import RunDir
from dlzoo.serve import create_app


class WordsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    words: list[str] = Field(min_length=1)


class StreamRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(3, ge=1, le=10)
    stream: bool = False


class EchoPipeline(Pipeline):
    requests = {"predict": WordsRequest, "sample": StreamRequest, "embed": WordsRequest}

    @staticmethod
    def serve(verb: str, loaded: Any, body: BaseModel) -> dict | Iterator[str]:
        if verb == "sample":
            items = (f"tok{i}" for i in range(body.n))
            return items if body.stream else {"text": "".join(items)}
        if any(not w for w in body.words):
            raise inference.InputError("words must not be empty")
        if verb == "embed":
            return {"lengths": [len(w) for w in body.words]}
        x = torch.tensor([[float(len(w))] for w in body.words])
        return {"scores": loaded.model(x).squeeze(-1).tolist()}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    def echo_model(*, width: int = 1) -> torch.nn.Module:
        """A linear map from word lengths to scores (test only)."""
        return torch.nn.Linear(1, width)

    registry._load_families()
    registry.register_model(
        family="mlp",
        task="classify",
        paradigm="supervised",
        pipeline=EchoPipeline,
        presets={"tiny": {"data": {"name": "digits"}}},
    )(echo_model)
    try:
        root = tmp_path_factory.mktemp("own")
        run = RunDir.create(root, "echo_model", "r")
        run.write_config(resolve_config("echo_model", preset="tiny"))
        torch.manual_seed(0)
        run.save_weights(torch.nn.Linear(1, 1))
        with TestClient(create_app(root)) as c:
            yield c
    finally:
        registry._REGISTRY.pop("echo_model", None)


def test_own_predict_body_is_validated_by_its_schema_and_answered_by_the_pipeline(client: TestClient) -> None:
    r = client.post("/v1/models/echo_model/predict", json={"words": ["a", "abc"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "echo_model@r" and len(body["scores"]) == 2
    assert body["scores"][0] != body["scores"][1]  # the model ran on each word's length
    r = client.post("/v1/models/echo_model/predict", json={"inputs": [[1.0]]})  # the tensor body is not this model's
    assert r.status_code == 422 and "words" in r.json()["detail"]
    r = client.post("/v1/models/echo_model/predict", json={"words": []})
    assert r.status_code == 422 and "words" in r.json()["detail"]
    r = client.post("/v1/models/echo_model/predict", json={"words": [""]})  # InputError from the pipeline
    assert r.status_code == 422 and r.json()["detail"] == "words must not be empty"


def test_own_verbs_are_listed_and_routed(client: TestClient) -> None:
    info = client.get("/v1/models/echo_model").json()
    assert info["verbs"] == ["predict", "sample", "embed"]
    assert client.post("/v1/models/echo_model/embed", json={"words": ["ab"]}).json()["lengths"] == [2]
    r = client.post("/v1/models/echo_model/act", json={"inputs": [[1.0]]})
    assert r.status_code == 400 and "embed" in r.json()["detail"]
    assert client.post("/v1/models/echo_model/nope", json={}).status_code == 400


def test_sample_answers_json_or_streams_json_lines(client: TestClient) -> None:
    assert client.post("/v1/models/echo_model/sample").json()["text"] == "tok0tok1tok2"
    r = client.post("/v1/models/echo_model/sample", json={"n": 2, "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines == [{"text": "tok0"}, {"text": "tok1"}, {"done": True, "model": "echo_model@r"}]
    r = client.post("/v1/models/echo_model/sample", json={"n": 99})
    assert r.status_code == 422 and "n" in r.json()["detail"]


def test_cli_paths_share_the_hook(client: TestClient, tmp_path: Path) -> None:
    from dlzoo.runs import load_run

    loaded = load_run(next(Path(p) for p in [client.app.state.models.runs["echo_model@r"].loaded.run.path]))
    assert inference.handle(loaded, "embed", {"words": ["abcd"]}) == {"lengths": [4]}
    with pytest.raises(inference.InputError, match="no reconstruct request"):
        inference.handle(loaded, "reconstruct", {})
    with pytest.raises(inference.InputError, match="embed request for echo_model: words: List should have at least 1"):
        inference.handle(loaded, "embed", {"words": []})
