"""The GPT: causality, weight tying, cached == uncached generation, learning, the LM paradigm, serving.

The tiny preset is trained once per session (conftest ``train_tiny``) on the generated toy grammar
text; its val loss must fall far below the unigram entropy of that text (3.27 nats), which a model
that ignores its context cannot do.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from fastapi.testclient import TestClient
from torch.testing import assert_close

from dlzoo.config import ConfigError, resolve_config
from dlzoo.families.transformer.gpt import GPT, GPTConfig
from dlzoo.registry import create_model
from dlzoo.runs import load_run
from dlzoo.serve import create_app
from dlzoo.paradigms import LanguageConfig
from dlzoo.tasks.language import learning_rate

UNIGRAM_ENTROPY = 3.27  # nats per character of toy_text(n_chars=20000)'s train split


def _gpt(positions: str = "learned", **kw) -> GPT:
    torch.manual_seed(0)
    cfg = dict(vocab_size=11, block_size=12, n_layer=2, n_head=2, n_embd=16, positions=positions)
    return GPT(GPTConfig(**{**cfg, **kw})).eval()


@pytest.mark.parametrize("positions", ["learned", "rope", "sinusoidal"])
def test_logits_never_depend_on_future_tokens(positions: str) -> None:
    m = _gpt(positions)
    idx = torch.randint(11, (2, 10))
    changed = idx.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 11
    assert_close(m(idx)[:, :6], m(changed)[:, :6])
    assert not torch.allclose(m(idx)[:, 6:], m(changed)[:, 6:])


def test_weight_tying_shares_the_embedding_with_the_head() -> None:
    tied, untied = _gpt(), _gpt(tie_weights=False)
    assert tied.lm_head is None and untied.lm_head is not None
    assert untied.num_params() - tied.num_params() == 11 * 16
    idx = torch.randint(11, (2, 5))
    h = tied.ln_f(tied.blocks[1](tied.blocks[0](tied.pos_emb(tied.tok_emb(idx)), causal=True), causal=True))
    assert_close(tied(idx), h @ tied.tok_emb.weight.T)  # logits = LN(h_L) W_e^T
    # the head's gradient reaches the embedding even for tokens that never appear in the input
    tied.train()
    tied(torch.zeros(1, 3, dtype=torch.long)).logsumexp(-1).sum().backward()
    assert tied.tok_emb.weight.grad[5].abs().sum() > 0


@pytest.mark.parametrize("positions", ["learned", "rope"])
@pytest.mark.parametrize(
    "sampling", [dict(temperature=0.0), dict(temperature=1.0, top_k=4), dict(temperature=0.8, top_p=0.9)]
)
def test_cached_and_uncached_generation_give_the_same_tokens(positions: str, sampling: dict) -> None:
    m = _gpt(positions)
    prompt = torch.randint(11, (3, 4))
    # 4 + 20 tokens: past block_size 12, so the window slide is covered too
    out = {
        cache: m.generate(
            prompt, max_new_tokens=20, generator=torch.Generator().manual_seed(3), use_cache=cache, **sampling
        )
        for cache in (True, False)
    }
    assert out[True].shape == (3, 24)
    assert torch.equal(out[True][:, :4], prompt)
    assert torch.equal(out[True], out[False])


def test_greedy_generation_follows_argmax_of_forward() -> None:
    m = _gpt()
    prompt = torch.randint(11, (2, 3))
    out = m.generate(prompt, max_new_tokens=5, temperature=0.0)
    for t in range(3, 8):
        assert torch.equal(out[:, t], m(out[:, :t]).argmax(-1)[:, -1])


def test_builder_validates_options() -> None:
    with pytest.raises(ValueError, match="valid: learned, none, rope, sinusoidal"):
        _gpt("alibi")
    with pytest.raises(ValueError, match="divisible"):
        create_model("gpt", vocab_size=5, block_size=8, n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="T >= 1"):
        _gpt().generate(torch.zeros(1, 0, dtype=torch.long), max_new_tokens=2)
    with pytest.raises(ConfigError, match="lr_decay_iters"):
        resolve_config("gpt", preset="tiny", overrides=["task.lr_decay_iters=5", "task.warmup_iters=10"])


def test_learning_rate_schedule_is_nanogpts() -> None:
    cfg = LanguageConfig(max_iters=2000, warmup_iters=100, lr_decay_iters=2000, min_lr=1e-4)

    def lr(it):
        return learning_rate(it, lr=1e-3, cfg=cfg)

    assert math.isclose(lr(0), 1e-3 / 101) and math.isclose(lr(99), 1e-3 * 100 / 101)
    assert math.isclose(lr(100), 1e-3)  # end of warmup: the peak
    assert math.isclose(lr(1050), 1e-4 + 0.5 * (1e-3 - 1e-4))  # half way through the cosine
    assert math.isclose(lr(2000), 1e-4) and math.isclose(lr(5000), 1e-4)


def test_tiny_gpt_learns_the_toy_grammar_and_records_its_vocabulary(train_tiny) -> None:
    path = train_tiny("gpt")
    result = json.loads((path / "eval.json").read_text())
    assert result["test/loss"] < UNIGRAM_ENTROPY - 1.0, result  # context is used: far below unigram
    assert result["test/loss_full"] < UNIGRAM_ENTROPY - 1.0
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    val = [r["val/loss"] for r in rows if "val/loss" in r]
    assert len(val) == 2 and val[-1] < val[0]  # two rounds of eval_interval iterations
    loaded = load_run(path)
    assert loaded.config.info["vocab"] == "".join(sorted(set(loaded.config.info["vocab"])))
    assert loaded.config.model["vocab_size"] == len(loaded.config.info["vocab"])


def test_sample_endpoint_generates_streams_and_refuses_bad_prompts(train_tiny) -> None:
    path = train_tiny("gpt")
    client = TestClient(create_app(path.parent.parent))
    url = "/v1/models/gpt/sample"
    r = client.post(url, json={"prompt": "KING:\n", "max_new_tokens": 40, "temperature": 0.8, "top_k": 10, "seed": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["completions"]) == 1 and len(body["completions"][0]) == 40
    assert not body["prompt_truncated"] and body["model"].startswith("gpt@")
    again = client.post(
        url, json={"prompt": "KING:\n", "max_new_tokens": 40, "temperature": 0.8, "top_k": 10, "seed": 1}
    ).json()
    assert again["completions"] == body["completions"]  # same seed, same text
    greedy = client.post(url, json={"prompt": "the ", "max_new_tokens": 12, "temperature": 0, "n": 2}).json()
    assert greedy["completions"][0] == greedy["completions"][1]
    # streaming: one line per character, then done
    for n in (1, 2):
        with client.stream(
            "POST", url, json={"prompt": "the ", "max_new_tokens": 12, "temperature": 0, "stream": True, "n": n}
        ) as s:
            assert s.status_code == 200 and s.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(line) for line in s.iter_lines() if line]
        assert lines[-1]["done"] is True and len(lines) == 12 * n + 1
        assert "".join(line["text"] for line in lines[:-1] if line.get("sample", 0) == 0) == greedy["completions"][0]
    # a prompt longer than the context is cut to its last block_size characters (documented)
    long = client.post(url, json={"prompt": "the king sees the sea. " * 10, "max_new_tokens": 3})
    assert long.status_code == 200 and long.json()["prompt_truncated"] is True
    # bad input: one-line 422s that say what was wrong, and the server keeps serving
    for bad, expected in [
        ({"prompt": "the ж king€"}, "outside the model's vocabulary: 'ж€'"),
        ({"prompt": ""}, "prompt is empty"),
        ({"max_new_tokens": 10**9}, "max_new_tokens"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"top_p": 0}, "top_p"),
        ({"temperature": -1}, "temperature"),
        ({"prompt": "x", "bogus": 1}, "bogus"),
    ]:
        r = client.post(url, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert expected in r.json()["detail"], (bad, r.json())
    assert client.post(url, json={"max_new_tokens": 2}).status_code == 200


def test_language_run_resumes_exactly_after_a_crash(tmp_path, monkeypatch) -> None:
    """Killed after round 0's checkpoint and resumed, a run ends with the uninterrupted run's numbers."""
    from dlzoo.runs import RunDir
    from dlzoo.tasks.language import LanguageTask
    from dlzoo.training.loop import train_run

    overrides = [
        "train.progress=false",
        "task.max_iters=30",
        "task.eval_interval=15",
        "train.log_every=5",
        "model.dropout=0.1",
    ]  # dropout: the RNG state must be restored too
    whole = RunDir.create(tmp_path, "gpt", "whole")
    train_run(resolve_config("gpt", preset="tiny", overrides=overrides), whole)

    original = LanguageTask.train_round

    def crash_in_round_1(self, round_idx):
        if round_idx == 1:
            raise KeyboardInterrupt("simulated kill")
        yield from original(self, round_idx)

    broken = RunDir.create(tmp_path, "gpt", "resumed")
    monkeypatch.setattr(LanguageTask, "train_round", crash_in_round_1)
    with pytest.raises(KeyboardInterrupt):
        train_run(resolve_config("gpt", preset="tiny", overrides=overrides), broken)
    monkeypatch.setattr(LanguageTask, "train_round", original)
    train_run(resolve_config("gpt", preset="tiny", overrides=overrides), broken, resume=True)

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "time"} for r in rows]

    assert strip(broken.read_metrics()) == strip(whole.read_metrics())
    assert json.loads(broken.eval_path.read_text())["test/loss"] == json.loads(whole.eval_path.read_text())["test/loss"]


def test_microbatch_threads_compute_the_full_batch_step_reproducibly(tmp_path) -> None:
    """2 micro-batches in 2 threads: the same losses as one batch (to float rounding), bit-identical reruns."""
    from dlzoo.runs import RunDir
    from dlzoo.training.loop import train_run

    threads = torch.get_num_threads()
    losses = []
    try:
        for i, n in enumerate((1, 2, 2)):
            run = RunDir.create(tmp_path, "gpt", f"n{n}-{i}")
            cfg = resolve_config(
                "gpt",
                preset="tiny",
                overrides=[
                    f"task.microbatch_threads={n}",
                    "task.max_iters=40",
                    "task.eval_interval=20",
                    "train.log_every=5",
                ],
            )
            train_run(cfg, run)
            losses.append(
                [r["train/loss"] for r in run.read_metrics() if "train/loss" in r]
                + [json.loads(run.eval_path.read_text())["test/loss_full"]]
            )
    finally:
        torch.set_num_threads(threads)
    assert len(losses[0]) == 9 and losses[0][-1] < losses[0][0] - 0.5  # it trains
    assert_close(torch.tensor(losses[1]), torch.tensor(losses[0]), rtol=1e-4, atol=0)  # a different float order only
    assert losses[2] == losses[1]  # the order in which the threads finish does not matter


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.batch_size=15", "divisible by task.microbatch_threads"),
        ("model.dropout=0.1", "with dropout"),
    ],
)
def test_microbatch_threads_refuse_what_they_cannot_reproduce(tmp_path, override, message) -> None:
    from dlzoo.runs import RunDir
    from dlzoo.training.loop import train_run

    cfg = resolve_config("gpt", preset="tiny", overrides=["task.microbatch_threads=2", override])
    with pytest.raises(ValueError, match=message):
        train_run(cfg, RunDir.create(tmp_path, "gpt", "x"))
    with pytest.raises(ConfigError, match="do not combine"):
        resolve_config("gpt", preset="tiny", overrides=["task.microbatch_threads=2", "task.compile=true"])
