"""The cost of the largest request the server accepts, per verb: wall time and peak extra memory.

    python benchmarks/serving_cost.py            # about a minute; prints a Markdown table

Each verb runs in a fresh process (its own ``create_app`` over a tiny trained run, through
``fastapi.testclient``, one torch thread): a small request first (warm-up), then the largest one the
default limits allow. Peak extra memory = the highest resident set size sampled every millisecond
(psutil) while the large request runs, minus the resident set just before it (JSON body, parsed
lists, tensors and the response together). Largest allowed: predict / reconstruct / act 4096
examples (MAX_BATCH; the tiny presets' inputs are small, so the 8 MiB body limit is not reached); a
tensor sampler's n = 1024 (MAX_SAMPLES; n x 1 step is under --max-sample-steps 4096); a language
model's n x max_new_tokens = 8192 (--max-tokens).
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {  # verb: (model, training overrides, body of the largest allowed request)
    "predict": ("mlp_classifier", [], {"inputs": [[0.5] * 64] * 4096}),
    "reconstruct": ("ae_mlp", ["train.epochs=1"], {"inputs": [[0.5] * 64] * 4096}),  # 8x8 digits
    "sample (tensor)": ("gan", [], {"n": 1024, "seed": 0}),
    "sample (text)": ("gpt", [], {"n": 2, "max_new_tokens": 4096}),
    "act": (
        "dqn",
        ["task.total_steps=400", "task.eval_every_steps=400", "task.eval_episodes=1", "task.final_eval_episodes=1"],
        {"inputs": [[0.0, 0.0, 0.0, 0.0]] * 4096},
    ),
}


def measure(verb: str, root: str) -> dict:
    import threading

    import psutil
    import torch
    from fastapi.testclient import TestClient

    from dlzoo.serve import create_app

    torch.set_num_threads(1)
    model, _, body = CASES[verb]
    path = f"/v1/models/{model}/{verb.split()[0]}"
    small = {k: (v[:1] if isinstance(v, list) else 1 if k in ("n", "max_new_tokens") else v) for k, v in body.items()}
    with TestClient(create_app(root)) as c:
        warm = c.post(path, json=small)
        assert warm.status_code == 200, warm.text
        raw = json.dumps(body)
        me = psutil.Process()
        before, peak, done = me.memory_info().rss, [0], threading.Event()

        def sample_rss() -> None:  # the resident set every millisecond while the request runs
            while not done.is_set():
                peak[0] = max(peak[0], me.memory_info().rss)
                time.sleep(0.001)

        sampler = threading.Thread(target=sample_rss)
        sampler.start()
        t0 = time.perf_counter()
        r = c.post(path, content=raw, headers={"content-type": "application/json"})
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
    assert r.status_code == 200, r.text[:300]
    extra = max(0, peak[0] - before) / 2**20
    return {"verb": verb, "model": model, "body_mb": len(raw) / 2**20, "seconds": seconds, "peak_mb": extra}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
        return
    from dlzoo.config import resolve_config
    from dlzoo.runs import RunDir
    from dlzoo.training import train_run

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for verb, (model, overrides, _) in CASES.items():
            root = Path(tmp) / verb.replace(" ", "_").replace("(", "").replace(")", "")
            cfg = resolve_config(
                model, preset="tiny", overrides=["train.progress=false", "train.threads=1", *overrides]
            )
            train_run(cfg, RunDir.create(root, model, "r"))
            out = subprocess.run(
                [sys.executable, __file__, "--one", verb, str(root)], capture_output=True, text=True, check=True
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| verb | model (tiny) | largest allowed request | body | time | peak extra memory |")
    print("|---|---|---|---|---|---|")
    what = {
        "predict": "4096 examples",
        "reconstruct": "4096 images of 8x8",
        "sample (tensor)": "n = 1024",
        "sample (text)": "n = 2 x 4096 tokens",
        "act": "4096 observations",
    }
    for r in rows:
        print(
            f"| {r['verb']} | {r['model']} | {what[r['verb']]} | {r['body_mb']:.1f} MB | {r['seconds']:.2f} s | "
            f"{r['peak_mb']:.0f} MB |"
        )


if __name__ == "__main__":
    main()
