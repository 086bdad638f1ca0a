"""DARTS (Liu et al. 2019) on the cell space, with DARTS-'s auxiliary skip (Chu et al. 2021) as the guard.

Every edge (j <- i) carries all operations at once, weighted by a softmax over architecture weights
alpha (E, K) (Liu et al. 2019, Eq. 1):

    mixed_{j<-i}(h) = sum_k softmax(alpha_{j<-i})_k * op_k(h)  [+ beta * h   with the DARTS- guard]

Search is a bilevel problem (Eq. 3-4): min_alpha L_val(w*(alpha), alpha) s.t. w* = argmin_w L_train(w, alpha),
solved first-order (Eq. 6 with xi = 0): alternate one Adam step on alpha with a validation batch and
one step on w with a training batch. The cell is then the argmax op of every edge (as NAS-Bench-201
derives it, 'none' included).

Why it collapses: skip connections make the weight-sharing supernet easy to optimise, so alpha learns
to prefer them whatever their worth as a final cell (the dominant Hessian eigenvalue of L_val w.r.t.
alpha grows as it happens, Zela et al. 2020). DARTS- adds an auxiliary skip beta * h beside every
mixed op, beta decaying linearly from 1 to 0 over the search: the supernet gets the easy path for free,
so the candidate skip_connect has to earn its weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from dlzoo.families.nas.cell import OP_NAMES, edges, format_genotype, make_op


class MixedOp(nn.Module):
    """All OP_NAMES on one edge. Shapes: x (B, C, H, W), weights (K,) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList([make_op(name, channels) for name in OP_NAMES])

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops, strict=True))  # sum_k w_k op_k(x)


class SearchNetwork(nn.Module):
    """The supernet: stem, one search cell (a MixedOp per edge), BN-ReLU, GAP, linear. (B, C_in, H, W) -> (B, K)."""

    def __init__(self, *, input_shape: tuple[int, ...], num_classes: int, channels: int = 16, nodes: int = 3) -> None:
        super().__init__()
        self.nodes = nodes
        self.edges = edges(nodes)
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )
        self.mixed = nn.ModuleList([MixedOp(channels) for _ in self.edges])
        self.out = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())
        self.head = nn.Linear(channels, num_classes)
        self.alpha = nn.Parameter(1e-3 * torch.randn(len(self.edges), len(OP_NAMES)))  # (E, K)
        self.beta = 0.0  # DARTS- auxiliary skip weight, set by the search schedule

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if n != "alpha"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = F.softmax(self.alpha, dim=-1)  # (E, K)
        h = [self.stem(x)]  # h[j]: (B, C, H, W)
        k = 0
        for j in range(1, self.nodes):
            s = 0
            for i in range(j):
                s = s + self.mixed[k](h[i], weights[k]) + self.beta * h[i]
                k += 1
            h.append(s)
        return self.head(self.out(h[-1]).mean(dim=(2, 3)))  # (B, K)

    def genotype(self) -> str:
        """argmax op of every edge, in genotype order."""
        return format_genotype([OP_NAMES[int(i)] for i in self.alpha.argmax(dim=-1)])


@dataclass
class DartsResult:
    genotype: str  # the derived cell after the search
    history: list[dict] = field(default_factory=list)  # per epoch: genotype, skip share, softmax(alpha)


def skip_share(genotype: str) -> float:
    """Fraction of the cell's edges whose op is skip_connect."""
    ops = [item.split("~")[0] for group in genotype.split("+") for item in group.split("|") if item]
    return sum(op == "skip_connect" for op in ops) / len(ops)


def search(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 30,
    seed: int = 0,
    aux_skip: bool = False,
    channels: int = 16,
    batch_size: int = 64,
    lr_w: float = 5e-3,
    lr_alpha: float = 3e-3,
    num_classes: int = 10,
) -> DartsResult:
    """First-order DARTS on (x, y), split in halves: weights learn on one, alpha on the other.

    x: (N, C, H, W) training images; y: (N,) labels. Returns the derived genotype and its history.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    perm = torch.randperm(len(x), generator=g)
    half = len(x) // 2
    (xw, yw), (xa, ya) = (x[perm[:half]], y[perm[:half]]), (x[perm[half:]], y[perm[half:]])
    net = SearchNetwork(input_shape=tuple(x.shape[1:]), num_classes=num_classes, channels=channels)
    opt_w = torch.optim.Adam(net.weight_parameters(), lr=lr_w)
    # the DARTS paper's alpha optimiser: Adam, betas (0.5, 0.999), weight decay 1e-3
    opt_a = torch.optim.Adam([net.alpha], lr=lr_alpha, betas=(0.5, 0.999), weight_decay=1e-3)
    steps = max(1, half // batch_size)
    history = []
    for epoch in range(epochs):
        net.train()
        iw, ia = torch.randperm(half, generator=g), torch.randperm(len(xa), generator=g)
        for s in range(steps):
            t = (epoch * steps + s) / (epochs * steps)
            net.beta = (1.0 - t) if aux_skip else 0.0  # DARTS-: beta 1 -> 0 linearly
            bw, ba = iw[s * batch_size : (s + 1) * batch_size], ia[s * batch_size : (s + 1) * batch_size]
            # architecture step on the held-out half (first-order: w treated as constant)
            loss_a = F.cross_entropy(net(xa[ba]), ya[ba])
            opt_a.zero_grad(set_to_none=True)
            loss_a.backward()
            opt_a.step()
            # weight step on the training half
            loss_w = F.cross_entropy(net(xw[bw]), yw[bw])
            opt_w.zero_grad(set_to_none=True)
            net.alpha.grad = None
            loss_w.backward()
            opt_w.step()
        geno = net.genotype()
        history.append(
            {
                "epoch": epoch + 1,
                "genotype": geno,
                "skip_share": skip_share(geno),
                "softmax_alpha": F.softmax(net.alpha, -1).detach().round(decimals=4).tolist(),
            }
        )
    return DartsResult(genotype=net.genotype(), history=history)
