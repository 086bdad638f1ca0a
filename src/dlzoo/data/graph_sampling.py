"""Sampling on graphs: neighbourhoods, non-edges (link prediction) and example graphs (tests, export).

Neighbour sampling for mini-batch training on graphs too large for full batches (Hamilton et al. 2017).

GraphSAGE's Algorithm 2 draws, for a mini-batch of target nodes B, a fixed-size sample of
``fanouts[0]`` neighbours of each target, then ``fanouts[1]`` neighbours of each of those, and so
on, and computes the targets' representations on the sampled computation graph only. Here the
sample is returned as a relabelled subgraph (as PyG's ``NeighborLoader`` does): the nodes it touches,
and the sampled edges neighbour -> node; a model of ``len(fanouts)`` layers run on it gives the
targets (the first ``len(seeds)`` rows) their sampled-neighbourhood representations.

Sampling is without replacement (a node with at most k neighbours keeps them all), vectorized:
each candidate edge gets a uniform key, and the k smallest keys per node win.
"""

from __future__ import annotations

import torch


class NeighborSampler:
    """Samples L-hop neighbourhoods of seed nodes from a fixed graph.

    Args:
        edge_index: (2, E) edges src -> dst of the full graph.
        num_nodes: N.
        fanouts: neighbours sampled per node at hop 1, 2, ...; -1 takes every neighbour.
    """

    def __init__(self, edge_index: torch.Tensor, num_nodes: int, *, fanouts: list[int]) -> None:
        if not fanouts or any(k == 0 or k < -1 for k in fanouts):
            raise ValueError(f"fanouts must be a non-empty list of positive ints or -1 (all), got {fanouts}")
        self.fanouts, self.num_nodes = list(fanouts), num_nodes
        order = torch.argsort(edge_index[1] * num_nodes + edge_index[0])  # group the edges by destination
        self.neighbours = edge_index[0, order]  # (E,) source of each incoming edge, grouped by dst
        counts = torch.bincount(edge_index[1], minlength=num_nodes)  # (N,) in-degree
        self.rowptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])  # (N + 1,)

    def sample(
        self, seeds: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (nodes (M,) global ids with ``nodes[:len(seeds)] == seeds``, edge_index (2, E') in 0..M-1)."""
        local = torch.full((self.num_nodes,), -1, dtype=torch.long)  # global id -> position in `nodes`
        nodes = seeds  # distinct ids (a slice of a permutation)
        local[nodes] = torch.arange(len(nodes))
        frontier, srcs, dsts = nodes, [], []
        for k in self.fanouts:
            start = self.rowptr[frontier]  # (B,)
            deg = self.rowptr[frontier + 1] - start  # (B,)
            seg = torch.repeat_interleave(torch.arange(len(frontier)), deg)  # (C,) which frontier node
            seg_start = torch.repeat_interleave(deg.cumsum(0) - deg, deg)  # (C,) first candidate of its node
            cand = self.neighbours[torch.repeat_interleave(start, deg) + torch.arange(len(seg)) - seg_start]  # (C,)
            if k > 0:  # keep the k candidates with the smallest random keys, per frontier node
                key = seg.double() + torch.rand(len(seg), generator=generator, dtype=torch.float64)
                order = torch.argsort(key)  # segments stay in order, shuffled inside
                keep = (torch.arange(len(seg)) - seg_start) < k  # rank within the segment
                cand, seg = cand[order][keep], seg[order][keep]
            srcs.append(cand)
            dsts.append(frontier[seg])
            new = cand[local[cand] < 0].unique()  # nodes reached for the first time
            local[new] = torch.arange(len(nodes), len(nodes) + len(new))
            nodes = torch.cat([nodes, new])
            frontier = new
        src, dst = torch.cat(srcs), torch.cat(dsts)
        return nodes, torch.stack([local[src], local[dst]])  # (M,), (2, E')


def negative_pairs(num_nodes: int, count: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` uniformly random node pairs (2, count) with u != v; a few may be true edges, as in PyG."""
    u = torch.randint(0, num_nodes, (count,), generator=generator)
    v = (u + torch.randint(1, num_nodes, (count,), generator=generator)) % num_nodes  # v != u
    return torch.stack([u, v])


# -- example graphs (contract tests, export) ----------------------------------------------------


def example_graph(num_nodes: int, num_features: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A ring with chords, both directions, and Gaussian features: x (n, F), edge_index (2, E)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, num_features, generator=g).abs()  # (n, F) non-negative, like word counts
    i = torch.arange(num_nodes)
    pairs = torch.cat([torch.stack([i, (i + 1) % num_nodes]), torch.stack([i, (i + 3) % num_nodes])], 1)
    pairs = pairs[:, pairs[0] != pairs[1]]  # (2, E/2) no self-loops for tiny n
    return x, torch.cat([pairs, pairs.flip(0)], 1)  # (2, E)


def example_graphs(num_graphs: int, num_features: int, *, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """``num_graphs`` small graphs of 3..7 nodes, batched: x (N, F), edge_index (2, E), batch (N,)."""
    xs, edges, batch, offset = [], [], [], 0
    for k in range(num_graphs):
        n = 3 + (k * 2 + seed) % 5
        x, ei = example_graph(n, num_features, seed=seed * 1000 + k)
        xs.append(x)
        edges.append(ei + offset)
        batch.append(torch.full((n,), k, dtype=torch.long))
        offset += n
    return torch.cat(xs), torch.cat(edges, 1), torch.cat(batch)
