"""Encoder classifier and encoder-decoder seq2seq: tokenizer, masks, KV-cache parity, beam search
against brute force, learning on the synthetic tasks, serving through the HTTP API."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

import dlzoo.families.transformer.seq2seq_presets  # noqa: F401  registers the models (also via presets.py)
from dlzoo.families.transformer.classifier import EncoderClassifier
from dlzoo.families.transformer.decoding import beam_search, greedy_decode, length_penalty
from dlzoo.families.transformer.seq2seq import Seq2SeqTransformer
from dlzoo.families.transformer.tokenizer import CharTokenizer, TokenizerError

JSON = {"content-type": "application/json"}


def small_model(vocab_size: int = 8, **kw) -> Seq2SeqTransformer:
    torch.manual_seed(0)
    args = {
        "vocab_size": vocab_size,
        "max_len": 12,
        "d_model": 32,
        "n_heads": 4,
        "n_encoder_layers": 2,
        "n_decoder_layers": 2,
        "dropout": 0.0,
    }
    return Seq2SeqTransformer(**{**args, **kw}).eval()


def ids(tok: CharTokenizer) -> dict[str, int]:
    return {"bos_id": tok.bos_id, "eos_id": tok.eos_id, "pad_id": tok.pad_id}


# -- tokenizer --------------------------------------------------------------------------------------


def test_tokenizer_round_trip_and_vocabulary() -> None:
    tok = CharTokenizer("0123456789+")
    assert tok.tokens[:3] == ("<pad>", "<bos>", "<eos>") and len(tok) == 14
    assert tok.encode("12+3") == [4, 5, 13, 6]
    assert tok.encode("1 2", bos=True, eos=True) == [1, 4, 5, 2]
    assert tok.encode(["1", "+"]) == [4, 13]
    assert tok.decode([4, 5, 2, 7, 7]) == "12"  # stops at <eos>
    assert tok.decode([1, 4, 0, 5]) == "12"  # <bos>/<pad> dropped
    again = CharTokenizer.from_vocabulary(list(tok.tokens))
    assert again.tokens == tok.tokens
    batch = tok.batch(["1", "123"], eos=True)
    assert batch.tolist() == [[4, 2, 0, 0], [4, 5, 6, 2]]


def test_tokenizer_errors_name_the_symbol() -> None:
    tok = CharTokenizer("012")
    with pytest.raises(TokenizerError, match=r"'7' at position 2 .* valid symbols: 0 1 2"):
        tok.encode("017")
    with pytest.raises(TokenizerError, match="special tokens"):
        tok.encode(["<eos>"])
    with pytest.raises(TokenizerError, match="must start with"):
        CharTokenizer.from_vocabulary(["a", "b", "c"])


# -- the model: masks --------------------------------------------------------------------------------


def test_source_padding_is_invisible_and_decoder_is_causal() -> None:
    model = small_model()
    src = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 3, 4, 5]])  # (2, 5), row 0 right-padded
    tgt = torch.tensor([[1, 3, 4, 5], [1, 5, 4, 3]])  # (2, 4)
    with torch.no_grad():
        full = model(src, tgt)  # (2, 4, V)
        unpadded = model(src[:1, :3], tgt[:1])  # the same source without padding
        torch.testing.assert_close(full[:1], unpadded, rtol=1e-5, atol=1e-5)
        changed = tgt.clone()
        changed[:, 2:] = 7  # change the future: earlier positions must not notice
        torch.testing.assert_close(model(src, changed)[:, :2], full[:, :2], rtol=1e-5, atol=1e-5)
    assert full.shape == (2, 4, 8) and torch.isfinite(full).all()


def test_embeddings_are_tied() -> None:
    model = small_model()
    names = [n for n, _ in model.named_parameters()]
    assert sum(p.shape == (8, 32) for p in model.parameters()) == 1, names  # one (V, C) matrix, shared


# -- decoding: the cache, greedy, beam ------------------------------------------------------------


def test_cached_decoding_matches_full_recompute() -> None:
    """Step-by-step decoding with the KV cache gives the logits of one full teacher-forced pass."""
    model = small_model()
    src = torch.tensor([[3, 4, 5, 6, 0], [7, 6, 5, 0, 0]])
    tgt = torch.tensor([[1, 5, 6, 3, 4, 7], [1, 3, 3, 4, 6, 5]])
    with torch.no_grad():
        full = model(src, tgt)  # (2, 6, V)
        memory, pad = model.encode(src)
        cache = model.new_cache()
        steps = [model.decode(tgt[:, t : t + 1], memory, pad, cache=cache) for t in range(tgt.shape[1])]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)
    assert len(cache) == 6


@pytest.mark.parametrize("beam", [1, 3])
def test_cached_and_uncached_decoding_give_the_same_tokens(beam: int) -> None:
    model, tok = small_model(vocab_size=9), CharTokenizer("012345")
    src = torch.tensor([[3, 4, 5, 6, 7], [8, 6, 5, 0, 0], [4, 0, 0, 0, 0]])
    run = greedy_decode if beam == 1 else lambda m, s, **k: beam_search(m, s, beam_size=beam, **k)
    a, sa = run(model, src, max_new_tokens=8, use_cache=True, **ids(tok))
    b, sb = run(model, src, max_new_tokens=8, use_cache=False, **ids(tok))
    assert torch.equal(a, b)
    torch.testing.assert_close(sa, sb, rtol=1e-5, atol=1e-5)


def test_beam_of_one_is_greedy() -> None:
    model, tok = small_model(vocab_size=9), CharTokenizer("012345")
    src = torch.tensor([[3, 4, 5, 6, 7], [8, 6, 5, 0, 0]])
    g, _ = greedy_decode(model, src, max_new_tokens=7, **ids(tok))
    b, _ = beam_search(model, src, max_new_tokens=7, beam_size=1, alpha=0.0, **ids(tok))
    assert torch.equal(g, b)


def brute_force_best(model, src: torch.Tensor, *, V: int, L: int, eos: int, alpha: float) -> tuple[list[int], float]:
    """Score every output of at most L tokens (ending at <eos>, or L tokens long) by teacher forcing."""
    best: tuple[list[int], float] = ([], float("-inf"))
    candidates = [
        list(y) + [eos] for n in range(L) for y in itertools.product([v for v in range(V) if v != eos], repeat=n)
    ]
    candidates += [list(y) for y in itertools.product([v for v in range(V) if v != eos], repeat=L)]
    with torch.no_grad():
        for y in candidates:
            tgt_in = torch.tensor([[1, *y[:-1]]])
            logp = model(src, tgt_in)[0].log_softmax(-1)  # (len(y), V)
            total = float(logp[torch.arange(len(y)), torch.tensor(y)].sum())
            score = total / float(length_penalty(torch.tensor(len(y)), alpha))
            if score > best[1]:
                best = (y, score)
    return best


def test_exhaustive_beam_search_finds_the_best_normalized_output() -> None:
    """A beam as wide as the whole search space must return the brute-force argmax of s(Y)."""
    torch.manual_seed(3)
    model = Seq2SeqTransformer(
        vocab_size=5, max_len=8, d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, dropout=0.0
    ).eval()
    with torch.no_grad():
        model.embed.weight.mul_(6.0)  # sharper distributions: the best output is unambiguous
    tok = CharTokenizer("ab")
    src = torch.tensor([[3, 4, 3]])
    for alpha in (0.0, 1.0):
        want, want_score = brute_force_best(model, src, V=5, L=3, eos=tok.eos_id, alpha=alpha)
        got, score = beam_search(model, src, max_new_tokens=3, beam_size=125, alpha=alpha, **ids(tok))
        row = got[0].tolist()
        row = row[: row.index(tok.eos_id) + 1] if tok.eos_id in row else row
        assert row == want, f"alpha={alpha}"
        assert float(score) == pytest.approx(want_score, abs=1e-4)


# -- learning ------------------------------------------------------------------------------------


def test_tiny_preset_learns_to_reverse(train_tiny) -> None:
    run = Path(train_tiny("seq2seq"))
    result = json.loads((run / "eval.json").read_text())
    assert result["test/exact_match"] >= 0.6, result  # untrained: ~0 (1..5 symbols of 5, held-out sources)
    assert result["test/token_accuracy"] >= 0.85, result


def test_classifier_pools_and_reads_rows_in_order() -> None:
    torch.manual_seed(0)
    x = torch.rand(3, 1, 8, 8)
    for pool in ("cls", "mean"):
        model = EncoderClassifier(
            input_shape=(1, 8, 8), num_classes=10, d_model=16, n_heads=2, n_layers=1, dropout=0.0, pool=pool
        ).eval()
        with torch.no_grad():
            out, flipped = model(x), model(x.flip(2))  # rows in reverse order
        assert out.shape == (3, 10) and torch.isfinite(out).all()
        assert not torch.allclose(out, flipped), "positions must make the row order matter"
    with pytest.raises(ValueError, match="valid: cls, mean"):
        EncoderClassifier(input_shape=(1, 8, 8), num_classes=10, pool="max")


def test_classifier_tiny_preset_learns_digits(train_tiny) -> None:
    result = json.loads((Path(train_tiny("transformer_classifier")) / "eval.json").read_text())
    assert result["test/accuracy"] >= 0.85, result  # 8x8 digits, 8 rows of 8 pixels; chance is 0.1


# -- serving ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(train_tiny, tmp_path_factory) -> TestClient:
    import shutil

    from dlzoo.serve import create_app

    root = tmp_path_factory.mktemp("served")
    shutil.copytree(train_tiny("seq2seq"), root / "seq2seq" / "tiny")
    return TestClient(create_app(root))


def test_vocabulary_is_saved_in_the_run(train_tiny) -> None:
    from dlzoo.runs import load_run

    loaded = load_run(train_tiny("seq2seq"))
    assert loaded.config.info["vocabulary"] == ["<pad>", "<bos>", "<eos>", "0", "1", "2", "3", "4"]
    assert loaded.config.info["max_src_len"] == 5


def test_predict_decodes_strings(client: TestClient) -> None:
    r = client.post("/v1/models/seq2seq/predict", json={"inputs": ["01234", ["4", "3"], "2 2 1"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["outputs"]) == 3 and all(isinstance(o, str) for o in body["outputs"])
    assert set("".join(body["outputs"])) <= set("01234")
    assert body["model"].startswith("seq2seq@") and body["decoding"] == "greedy"
    r = client.post("/v1/models/seq2seq/predict", json={"inputs": ["01234"], "beam_size": 3})
    assert r.status_code == 200 and r.json()["decoding"] == "beam search, K=3"


def test_cli_path_takes_the_same_body(train_tiny) -> None:
    """``dlzoo predict <run> body.json`` goes through inference.handle (a bare list of sources is accepted)."""
    from dlzoo import inference
    from dlzoo.runs import load_run

    loaded = load_run(train_tiny("seq2seq"))
    a = inference.handle(loaded, "predict", {"inputs": ["0123", "41"]})
    assert inference.handle(loaded, "predict", ["0123", "41"]) == a and len(a["outputs"]) == 2
    with pytest.raises(inference.InputError, match="inputs.1.: symbol '7'"):
        inference.handle(loaded, "predict", {"inputs": ["01", "7"]})


@pytest.mark.parametrize(
    "body, message",
    [
        (
            {"inputs": ["0129"]},
            "inputs[0]: symbol '9' at position 3 is not in the vocabulary; valid symbols: 0 1 2 3 4",
        ),
        ({"inputs": ["01", ""]}, "inputs[1]: empty source"),
        ({"inputs": ["0123401234"]}, "inputs[0]: 10 symbols, over the longest source the model was trained on (5)"),
        ({"inputs": []}, "inputs"),
        ({"inputs": ["01"], "beam_size": 0}, "beam_size"),
        ({"inputs": ["01"], "max_new_tokens": 500}, "max_new_tokens=500 is over the model's limit"),
        ({"inputs": [3]}, "inputs"),
    ],
)
def test_bad_input_is_a_clear_422(client: TestClient, body: dict, message: str) -> None:
    r = client.post("/v1/models/seq2seq/predict", json=body)
    assert r.status_code == 422, r.text
    assert message in json.dumps(r.json()).replace('\\"', '"'), r.text
    assert client.post("/v1/models/seq2seq/predict", json={"inputs": ["01"]}).status_code == 200  # still serving


def test_export_run_builds_token_inputs(train_tiny, tmp_path) -> None:
    """``dlzoo export`` of a run: example inputs from the objective (ONNX with dynamic lengths: contract tests)."""
    from dlzoo.export import export_run

    report = export_run(train_tiny("seq2seq"), fmt="torchscript", out=tmp_path / "s2s.pt")
    assert report.path.is_file() and report.max_abs_diff < 1e-3
