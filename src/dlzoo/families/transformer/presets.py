"""Registered Transformer entrypoints and their presets (presets are data: partial run configs).

GPT presets: ``tiny`` (toy grammar text, seconds, used by the tests), ``default`` and
``shakespeare_cpu`` (nanoGPT's published CPU configuration for Tiny Shakespeare characters: 4 layers,
4 heads, 128 wide, block 64, batch 12, 2000 iterations, lr 1e-3 -> 1e-4, warmup 100, no dropout),
``best10min`` (the same model for 10,000 steps: what fits 10 minutes of this 2-core machine; see README.md).
"""

from __future__ import annotations

from dlzoo.families.transformer.gpt import GPT, GPTConfig
from dlzoo.families.transformer.objective import LanguageModelObjective
from dlzoo.families.transformer.pipeline import LanguagePipeline
from dlzoo.registry import register_model

SHAKESPEARE = {"name": "tinyshakespeare"}
# nanoGPT config/train_shakespeare_char.py + the README's CPU command (--device=cpu --compile=False
# --eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
# --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0)
NANOGPT_CPU = {
    "model": {"n_layer": 4, "n_head": 4, "n_embd": 128, "dropout": 0.0, "bias": False},
    "data": SHAKESPEARE,
    "task": {
        "block_size": 64,
        "max_iters": 2000,
        "eval_interval": 250,
        "eval_iters": 20,
        "warmup_iters": 100,
        "lr_decay_iters": 2000,
        "min_lr": 1e-4,
        "beta1": 0.9,
        "beta2": 0.99,
        # how the steps run, not what they compute: 2 micro-batches of 6 in 2 threads (README.md, Results)
        "microbatch_threads": 2,
    },
    "train": {
        "batch_size": 12,
        "optimizer": "adamw",
        "lr": 1e-3,
        "weight_decay": 0.1,
        "grad_clip": 1.0,
        "log_every": 50,
        "checkpoint_every": 8,
        # measured with glibc keeping freed memory between steps (README.md, Results)
        "retain_freed_memory": True,
    },
}


@register_model(
    family="transformer",
    task="generate",
    paradigm="language",
    objective=LanguageModelObjective,
    pipeline=LanguagePipeline,
    presets={
        "tiny": {
            "model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "dropout": 0.0},
            "data": {"name": "toy_text", "n_chars": 20000},
            "task": {
                "block_size": 32,
                "max_iters": 100,
                "eval_interval": 50,
                "eval_iters": 4,
                "warmup_iters": 10,
                "min_lr": 3e-4,
            },
            "train": {
                "batch_size": 16,
                "optimizer": "adamw",
                "lr": 3e-3,
                "weight_decay": 0.1,
                "grad_clip": 1.0,
                "log_every": 10,
            },
        },
        "default": NANOGPT_CPU,
        "shakespeare_cpu": NANOGPT_CPU,
        # the same model trained 5x longer: 10,000 steps fit 10 minutes of this 2-core machine (README.md)
        "best10min": {
            **NANOGPT_CPU,
            "task": {**NANOGPT_CPU["task"], "max_iters": 10000, "lr_decay_iters": 10000, "eval_interval": 500},
        },
    },
)
def gpt(
    *,
    vocab_size: int,
    block_size: int,
    n_layer: int = 4,
    n_head: int = 4,
    n_embd: int = 128,
    dropout: float = 0.0,
    bias: bool = False,
    positions: str = "learned",
    tie_weights: bool = True,
    fast: bool = True,
) -> GPT:
    """Decoder-only Transformer language model (GPT; Radford et al. 2018/2019), nanoGPT-style.

    Args:
        vocab_size: V, number of token ids; filled from the data when unset.
        block_size: context length, the most tokens attended over; filled from task.block_size when unset.
        n_layer: L, Transformer blocks (pre-norm causal self-attention + MLP).
        n_head: attention heads per block; n_embd / n_head per head.
        n_embd: C, the model width (embeddings, residual stream); the MLP is 4 * C wide.
        dropout: drop probability on the embeddings, attention weights and residual branches.
        bias: biases in the Linear and LayerNorm layers (nanoGPT: False is a little better and faster).
        positions: position information: learned (table) | sinusoidal | rope (rotary, on queries and keys) | none.
        tie_weights: the output head reuses the token embedding matrix, transposed (Press & Wolf 2017).
        fast: attention by torch's scaled_dot_product_attention kernel (True) or written out (False); same result.
    """
    return GPT(
        GPTConfig(
            vocab_size=vocab_size,
            block_size=block_size,
            n_layer=n_layer,
            n_head=n_head,
            n_embd=n_embd,
            dropout=dropout,
            bias=bias,
            positions=positions,
            tie_weights=tie_weights,
            fast=fast,
        )
    )


from dlzoo.families.transformer import seq2seq_presets  # noqa: E402,F401
