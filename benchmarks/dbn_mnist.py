"""A deep belief net on MNIST: RBMs stacked greedily, then fine-tuned as a classifier, against the same
MLP trained from random initialisation with the same fine-tuning budget and with the same total time.

    flock /tmp/dlzoo-bench.lock nice -n 5 python benchmarks/dbn_mnist.py
    python benchmarks/dbn_mnist.py --smoke                      # seconds, records nothing

Hinton, Osindero & Teh (2006): 784-500-500-2000 RBMs pretrained greedily (each layer's hidden
probabilities are the next layer's data), then fine-tuned; 1.25% test error (their up-down fine-tuning
of the generative model; backprop fine-tuning gives similar numbers, Hinton & Salakhutdinov 2006).
Here, for one shared CPU core: ``--layers`` (500 500), ``--pretrain-epochs`` of CD-1 per layer with this
family's ``RBM`` and ``RBMObjective`` (grey levels read as Bernoulli probabilities, SGD lr 0.05 momentum
0.5, batch 100), then a sigmoid MLP 784-500-500-10 whose hidden layers start from the RBMs' (W, c),
fine-tuned by Adam (lr 1e-3, batch 100) for ``--finetune-epochs``; the baseline is the same MLP from
PyTorch's default initialisation with the same fine-tuning. Plain torch loops (not the dlzoo loop):
the fine-tuned network is an ordinary classifier.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DLZOO_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))  # ../shared/data

import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.families.energy.objective import RBMObjective  # noqa: E402
from dlzoo.families.energy.rbm import RBM  # noqa: E402


def pretrain(x: torch.Tensor, layers: list[int], epochs: int, seed: int) -> list[RBM]:
    """Greedy layer-wise CD-1: each RBM is trained on the hidden probabilities of the one below."""
    rbms, data = [], x
    for i, h in enumerate(layers):
        torch.manual_seed(seed + i)
        rbm = RBM(input_shape=(data.shape[1],), n_hidden=h)
        objective = RBMObjective(RBMObjective.Config(k=1))
        opt = torch.optim.SGD(rbm.parameters(), lr=0.05, momentum=0.5)
        for epoch in range(epochs):
            order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed + 100 * i + epoch))
            for start in range(0, len(data), 100):
                loss, _ = objective.loss(rbm, data[order[start : start + 100]])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            data = rbm.hidden_probs(data)  # (N, h): the next layer's data
        rbms.append(rbm)
    return rbms


def mlp(layers: list[int], rbms: list[RBM] | None) -> nn.Sequential:
    dims = [784, *layers]
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims, dims[1:], strict=False)):
        lin = nn.Linear(a, b)
        if rbms is not None:
            with torch.no_grad():
                lin.weight.copy_(rbms[i].W)  # (h, d): the RBM's recognition weights
                lin.bias.copy_(rbms[i].c)
        mods += [lin, nn.Sigmoid()]
    return nn.Sequential(*mods, nn.Linear(dims[-1], 10))


def finetune(net: nn.Sequential, data, epochs: int, seed: int) -> float:
    """Adam fine-tuning by cross-entropy; the test error in percent."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = data.train.x, data.train.y
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed + epoch))
        for start in range(0, len(x), 100):
            idx = order[start : start + 100]
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = net(data.test.x).argmax(1)
    return 100.0 * float((pred != data.test.y).float().mean())


def one_seed(data, args: argparse.Namespace, seed: int) -> dict[str, float]:
    """The three arms of one seed; times are CPU seconds (process time: steadier on a shared machine)."""
    t0 = time.process_time()
    rbms = pretrain(data.train.x, args.layers, args.pretrain_epochs, seed)
    pre_s = time.process_time() - t0
    t1 = time.process_time()
    dbn_err = finetune(mlp(args.layers, rbms), data, args.finetune_epochs, seed)
    dbn_s = time.process_time() - t1
    torch.manual_seed(seed)
    t2 = time.process_time()
    rand_err = finetune(mlp(args.layers, None), data, args.finetune_epochs, seed)
    rand_s = time.process_time() - t2
    # equal total time: random init gets as many epochs as the DBN's pretraining + fine-tuning time buys
    eq_epochs = max(args.finetune_epochs, round((pre_s + dbn_s) / (rand_s / args.finetune_epochs)))
    torch.manual_seed(seed)
    t3 = time.process_time()
    eq_err = finetune(mlp(args.layers, None), data, eq_epochs, seed)
    eq_s = time.process_time() - t3
    print(f"seed {seed}: DBN {dbn_err:.2f}% (pretraining {pre_s:.0f} s + fine-tuning {dbn_s:.0f} s CPU); "
          f"random init {rand_err:.2f}% ({rand_s:.0f} s); random init at equal time {eq_err:.2f}% "
          f"({eq_epochs} epochs, {eq_s:.0f} s)")  # fmt: skip
    return {"dbn": dbn_err, "dbn_s": pre_s + dbn_s, "pre_s": pre_s, "rand": rand_err, "rand_s": rand_s,
            "eq": eq_err, "eq_s": eq_s, "eq_epochs": eq_epochs}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, nargs="+", default=[500, 500])
    ap.add_argument("--pretrain-epochs", type=int, default=2)
    ap.add_argument("--finetune-epochs", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--smoke", action="store_true", help="2000 images, 1 epoch each, one seed, records nothing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.smoke:
        args.pretrain_epochs, args.finetune_epochs, args.seeds = 1, 1, args.seeds[:1]
    data = load_dataset("mnist", flatten=True, limit=2000 if args.smoke else None)
    runs = [one_seed(data, args, seed) for seed in args.seeds]
    if args.smoke:
        return
    reference = {
        "value": 1.25,
        "source": "Hinton, Osindero & Teh 2006, A fast learning algorithm for deep belief nets "
        "(784-500-500-2000, long pretraining and up-down fine-tuning)",
    }

    def arm(name: str, key: str, time_key: str) -> dict:
        values = [r[key] for r in runs]
        return {"name": name, "value": statistics.fmean(values), "sd": statistics.pstdev(values),
                "values": values, "wall_time_s": statistics.fmean(r[time_key] for r in runs)}  # fmt: skip

    epochs = sorted({r["eq_epochs"] for r in runs})
    baselines = [
        arm("same MLP, random init, same fine-tuning", "rand", "rand_s"),
        arm(f"same MLP, random init, equal total CPU time ({'/'.join(map(str, epochs))} epochs)", "eq", "eq_s"),
    ]
    notes = (
        f"{len(runs)} seeds; sigmoid MLP 784-{'-'.join(map(str, args.layers))}-10; {args.pretrain_epochs} CD-1 "
        f"epochs per RBM, then {args.finetune_epochs} Adam epochs; baselines: the same fine-tuning from random "
        "init, and random init given as many Adam epochs as the DBN's pretraining plus fine-tuning CPU time "
        "buys; times are CPU seconds (process time), one torch thread"
    )
    record(
        "dbn_mnist",
        key="dbn",
        model="rbm",
        family="energy",
        dataset="mnist",
        dataset_version=data.info.version,
        split="test: the 10000 published MNIST test images; train: all 60000",
        metric="test error (%)",
        values=[r["dbn"] for r in runs],
        seeds=args.seeds,
        wall_time_s=statistics.fmean(r["dbn_s"] for r in runs),
        higher_is_better=False,
        reference=reference,
        baselines=baselines,
        notes=notes,
        config=vars(args),
    )


if __name__ == "__main__":
    main()
