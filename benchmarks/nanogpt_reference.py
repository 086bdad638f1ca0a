"""nanoGPT's CPU run re-measured on this machine: the baseline for nanogpt_shakespeare.py.

    DLZOO_DATA=../shared/data flock /tmp/dlzoo-bench.lock python benchmarks/nanogpt_reference.py \
        --seeds 1337 0 1 2

nanoGPT (karpathy/nanoGPT) is a repository, not a package: it cannot be pip-installed here, and its
code is not copied into this one. This file re-implements, in plain PyTorch and in one process, what
its README's CPU command runs::

    python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
        --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
        --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0

down to the order in which it draws random numbers, so that seed 1337 (nanoGPT's ``torch.manual_seed(1337)``)
initializes the same weights and draws the same batches as nanoGPT on a CPU:

- data: ``data/shakespeare_char/prepare.py``: sorted characters of input.txt (65), first 90% train;
  a batch is ``torch.randint(len(data) - block_size, (batch_size,))`` start offsets;
- model: ``model.py``'s GPT: modules built in its order (wte, wpe, blocks [ln_1, c_attn, c_proj, ln_2,
  c_fc, c_proj], ln_f, lm_head) with PyTorch's default inits, the lm_head tied to wte, then
  N(0, 0.02) for every Linear and Embedding in module order, then N(0, 0.02 / sqrt(2 L)) for the
  c_proj weights; no biases; exact GELU; SDPA with ``is_causal``;
- optimizer: AdamW (0.9, 0.99), weight decay 0.1 on the >= 2-d parameters only, not fused (CPU);
  lr warmup ``lr * (it + 1) / (warmup + 1)`` for 100 steps, cosine to 1e-4 at 2000; clip 1.0;
- loop: ``estimate_loss`` (20 fresh random batches of train, then of val, with the global generator)
  at every 250th iteration including 0 and 2000; the next batch is drawn right after the forward;
  ``loss.item()`` every iteration (log_interval=1); 2001 optimizer steps (iterations 0..2000, as
  nanoGPT's loop runs while ``iter_num <= max_iters``).

Besides nanoGPT's own 20-batch val estimate, each run reports the loss over the whole val split
(every full 64-token window), which is what the 20-batch estimate estimates.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record

N_LAYER, N_HEAD, N_EMBD, BLOCK, BATCH = 4, 4, 128, 64, 12
MAX_ITERS, EVAL_INTERVAL, EVAL_ITERS, WARMUP, LR, MIN_LR = 2000, 250, 20, 100, 1e-3, 1e-4


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(N_EMBD, bias=False)
        self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD, bias=False)
        self.attn_proj = nn.Linear(N_EMBD, N_EMBD, bias=False)  # nanoGPT: attn.c_proj
        self.ln_2 = nn.LayerNorm(N_EMBD, bias=False)
        self.c_fc = nn.Linear(N_EMBD, 4 * N_EMBD, bias=False)
        self.mlp_proj = nn.Linear(4 * N_EMBD, N_EMBD, bias=False)  # nanoGPT: mlp.c_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(N_EMBD, dim=2)
        q, k, v = (t.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class NanoGPT(nn.Module):
    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab_size, N_EMBD)
        self.wpe = nn.Embedding(BLOCK, N_EMBD)
        self.h = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD, bias=False)
        self.lm_head = nn.Linear(N_EMBD, vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight  # weight tying
        for m in self.modules():  # nanoGPT's _init_weights, in module order (lm_head last: it sets the tied table)
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * N_LAYER))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def load() -> tuple[torch.Tensor, torch.Tensor, int]:
    """(train ids, val ids, vocabulary size) of $DLZOO_DATA/tinyshakespeare/input.txt (default ../shared/data)."""
    root = Path(os.environ.get("DLZOO_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    text = (root / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    stoi = {ch: i for i, ch in enumerate(sorted(set(text)))}
    ids = torch.tensor([stoi[c] for c in text], dtype=torch.int64)
    n = int(0.9 * len(ids))
    return ids[:n], ids[n:], len(stoi)


def get_batch(data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ix = torch.randint(len(data) - BLOCK, (BATCH,))
    return torch.stack([data[i : i + BLOCK] for i in ix]), torch.stack([data[i + 1 : i + 1 + BLOCK] for i in ix])


def get_lr(it: int) -> float:
    if it < WARMUP:
        return LR * (it + 1) / (WARMUP + 1)
    ratio = (it - WARMUP) / (MAX_ITERS - WARMUP)
    return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * min(ratio, 1.0))) * (LR - MIN_LR)


def loss_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x)
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))


@torch.no_grad()
def full_split_loss(model: nn.Module, data: torch.Tensor) -> float:
    """Mean loss over every non-overlapping 64-token window of the split (all targets predicted once)."""
    model.eval()
    n = (len(data) - 1) // BLOCK
    x = data[: n * BLOCK].view(n, BLOCK)
    y = data[1 : n * BLOCK + 1].view(n, BLOCK)
    total = sum(loss_of(model, x[i : i + 256], y[i : i + 256]).item() * len(x[i : i + 256]) for i in range(0, n, 256))
    model.train()
    return total / n


def train(seed: int, train_ids: torch.Tensor, val_ids: torch.Tensor, vocab: int) -> dict:
    torch.manual_seed(seed)
    model = NanoGPT(vocab)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.99))

    @torch.no_grad()
    def estimate_loss() -> dict[str, float]:
        model.eval()
        out = {}
        for name, data in (("train", train_ids), ("val", val_ids)):
            out[name] = statistics.fmean(loss_of(model, *get_batch(data)).item() for _ in range(EVAL_ITERS))
        model.train()
        return out

    curve = []
    x, y = get_batch(train_ids)
    t0 = time.perf_counter()
    for it in range(MAX_ITERS + 1):
        for g in opt.param_groups:
            g["lr"] = get_lr(it)
        if it % EVAL_INTERVAL == 0:
            losses = estimate_loss()
            curve.append((it, round(losses["val"], 4), round(time.perf_counter() - t0, 1)))
        loss = loss_of(model, x, y)
        x, y = get_batch(train_ids)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # log_interval=1: one sync per iteration, as nanoGPT prints every loss
    wall = time.perf_counter() - t0
    return {"val": curve[-1][1], "curve": curve, "wall": wall, "full": full_split_loss(model, val_ids)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1337], help="torch.manual_seed values (nanoGPT: 1337)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: PyTorch's own, as nanoGPT leaves it: the core count)",
    )
    p.add_argument(
        "--retain-freed-memory",
        action="store_true",
        help="apply dlzoo's glibc malloc settings "
        "(dlzoo.training.allocator), which dlzoo's training applies and nanoGPT does not",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the runs to this JSON file")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.retain_freed_memory:
        from dlzoo.training.allocator import retain_freed_memory

        retain_freed_memory()
    train_ids, val_ids, vocab = load()
    runs = []
    for seed in args.seeds:
        r = train(seed, train_ids, val_ids, vocab)
        runs.append(r)
        print(
            f"seed {seed}: val/loss (20 batches) {r['val']:.4f}  whole val split {r['full']:.4f}  "
            f"{r['wall']:.1f} s = {1000 * r['wall'] / MAX_ITERS:.1f} ms/iteration\n  curve {r['curve']}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(runs))
    if args.no_record:
        return
    wall = statistics.fmean(r["wall"] for r in runs)
    record(
        "nanogpt_reference",
        key="shakespeare_cpu" + ("-retain-freed-memory" if args.retain_freed_memory else ""),
        model="nanoGPT (re-implemented, plain PyTorch)",
        family="transformer",
        dataset="tinyshakespeare",
        split="val: last 10% of input.txt (111540 characters); train: first 90%",
        metric="val/loss",
        values=[r["val"] for r in runs],
        seeds=args.seeds,
        higher_is_better=False,
        wall_time_s=wall,
        reference={
            "value": 1.886,
            "wall_time_s": 80.0,
            "source": "karpathy/nanoGPT README, the CPU command: val loss 1.88 "
            "(1.886 in a run of that command on a 2-core CPU machine)",
        },
        notes=f"{torch.get_num_threads()} torch thread(s); glibc malloc "
        f"{'settings of dlzoo.training.allocator' if args.retain_freed_memory else 'defaults'}; "
        "value = nanoGPT's final estimate_loss (20 fresh random val batches of 12x64); "
        "wall_time_s = iterations 0..2000 incl. the 9 estimates (train + val).",
        extra={
            "test_loss_full": [r["full"] for r in runs],
            "ms_per_iteration": 1000 * wall / MAX_ITERS,
            "val_curves": [r["curve"] for r in runs],
            "threads": torch.get_num_threads(),
        },
    )


if __name__ == "__main__":
    main()
