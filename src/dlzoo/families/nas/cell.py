"""A NAS-Bench-201-style cell (Dong & Yang 2020) and the network that stacks it.

A cell is a DAG on nodes 0..N-1; node 0 is the cell's input, node N-1 its output, and every pair i < j
is an edge carrying one operation from OPS:

    h_0 = x
    h_j = sum_{i<j} op_{j<-i}(h_i)          # j = 1..N-1
    cell(x) = h_{N-1}

The genotype is written as in NAS-Bench-201, one group per node j = 1..N-1 listing its incoming edges:
``|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|`` (3 nodes, 3 edges, 5^3 = 125 cells).

The network is stem conv -> ``cells`` copies of the cell -> BN-ReLU -> global average pool -> linear.
"""

from __future__ import annotations

import torch
from torch import nn

from dlzoo.registry import choices_error

#: the NAS-Bench-201 operation names, in the order the architecture weights of DARTS index them
OP_NAMES = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


class Zero(nn.Module):
    """The 'none' operation: the edge is absent, it contributes zeros."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class ReLUConvBN(nn.Module):
    """ReLU -> conv k x k ('same' padding) -> BN, the NAS-Bench-201 conv operation. (B, C, H, W) -> same."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def make_op(name: str, channels: int) -> nn.Module:
    """One operation of OP_NAMES on ``channels`` feature maps; shape-preserving."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(choices_error("operation", name, OP_NAMES))


def edges(nodes: int) -> list[tuple[int, int]]:
    """The edges (j, i), i < j, of an N-node cell in genotype order: node by node, sources ascending."""
    return [(j, i) for j in range(1, nodes) for i in range(j)]


def parse_genotype(text: str) -> list[tuple[str, ...]]:
    """``|a~0|+|b~0|c~1|`` -> [("a",), ("b", "c")]: per node j >= 1, the ops of its edges from i = 0..j-1."""
    groups = []
    for j, group in enumerate(text.strip().split("+"), start=1):
        items = [s for s in group.strip().split("|") if s]
        ops = []
        for i, item in enumerate(items):
            op, sep, src = item.partition("~")
            if not sep or src != str(i):
                raise ValueError(f"genotype {text!r}: node {j} edge {i} must read '<op>~{i}', got {item!r}")
            if op not in OP_NAMES:
                raise ValueError(f"genotype {text!r}: {choices_error('operation', op, OP_NAMES)}")
            ops.append(op)
        if len(ops) != j:
            raise ValueError(f"genotype {text!r}: node {j} needs {j} incoming edges, got {len(ops)}")
        groups.append(tuple(ops))
    return groups


def format_genotype(ops: list[str] | tuple[str, ...]) -> str:
    """Edge ops in ``edges(N)`` order -> the genotype string; the inverse of ``genotype_ops``."""
    out, k, j = [], 0, 1
    while k < len(ops):
        out.append("|" + "|".join(f"{ops[k + i]}~{i}" for i in range(j)) + "|")
        k, j = k + j, j + 1
    if k != len(ops):
        raise ValueError(f"{len(ops)} edge ops do not fill a cell (1, 3, 6, ... edges)")
    return "+".join(out)


def genotype_ops(text: str) -> tuple[str, ...]:
    """The genotype's ops in ``edges(N)`` order."""
    return tuple(op for group in parse_genotype(text) for op in group)


class Cell(nn.Module):
    """One cell of a fixed genotype. Shapes: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, genotype: str, channels: int) -> None:
        super().__init__()
        groups = parse_genotype(genotype)
        self.nodes = len(groups) + 1
        self.ops = nn.ModuleList([make_op(op, channels) for group in groups for op in group])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = [x]  # h[j]: (B, C, H, W)
        k = 0
        for j in range(1, self.nodes):
            s = self.ops[k](h[0])
            for i in range(1, j):
                s = s + self.ops[k + i](h[i])  # h_j = sum_i op_{j<-i}(h_i)
            h.append(s)
            k += j
        return h[-1]


class CellNetwork(nn.Module):
    """stem conv 3x3 -> BN -> ``cells`` x cell -> BN -> ReLU -> GAP -> linear. (B, C_in, H, W) -> (B, K).

    Args:
        genotype: the cell, e.g. ``|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|``.
        input_shape: image shape (C_in, H, W); filled from the data when unset.
        num_classes: K, number of classes; filled from the data when unset.
        channels: feature maps inside the cells.
        cells: how many copies of the cell are stacked.
    """

    def __init__(self, *, genotype: str, input_shape: tuple[int, ...], num_classes: int, channels: int, cells: int):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        )
        self.cells = nn.Sequential(*[Cell(genotype, channels) for _ in range(cells)])
        self.out = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU())
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.cells(self.stem(x))  # (B, C, H, W)
        h = self.out(h).mean(dim=(2, 3))  # (B, C): global average pooling
        return self.head(h)  # (B, K)
