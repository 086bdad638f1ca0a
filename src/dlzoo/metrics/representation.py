"""Quality of learned codes and reconstructions: linear-probe accuracy and PSNR.

``linear_probe_accuracy`` fits a multinomial logistic regression on frozen training codes and reports
its accuracy on held-out codes: the standard measure of how linearly separable a representation
makes the classes (used for autoencoder codes here; SimCLR-style methods use the same protocol).
``psnr`` is torchmetrics' PeakSignalNoiseRatio, accumulated over batches (one PSNR of the pooled
squared error, not a mean of per-image PSNRs).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


@torch.no_grad()
def psnr(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], *, data_range: float = 1.0) -> float:
    """PSNR = 10 log10(data_range^2 / MSE) over every (prediction, target) pair of batches, in dB."""
    from torchmetrics.image import PeakSignalNoiseRatio

    metric = PeakSignalNoiseRatio(data_range=data_range)
    for pred, target in pairs:
        metric.update(pred.detach().cpu().float(), target.detach().cpu().float())
    return float(metric.compute())


def linear_probe_accuracy(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    l2: float = 1e-4,
    steps: int = 100,
) -> float:
    """Accuracy on (test_x, test_y) of softmax regression fitted on (train_x, train_y).

    Features are standardized with the training statistics; the weights minimize the mean
    cross-entropy + l2 * ||W||^2 by full-batch L-BFGS (``steps`` iterations, strong-Wolfe line search)
    from zero, so the result is deterministic. x: (N, K) float, y: (N,) int64.
    """
    train_x, test_x = train_x.float().flatten(1), test_x.float().flatten(1)
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = int(max(train_y.max(), test_y.max())) + 1
    weight = torch.zeros(train_x.shape[1], classes, dtype=torch.float32, requires_grad=True)  # (K, C)
    bias = torch.zeros(classes, dtype=torch.float32, requires_grad=True)  # (C,)
    opt = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=steps,
        history_size=20,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-7,
        tolerance_change=1e-10,
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(train_x @ weight + bias, train_y) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        return float(((test_x @ weight + bias).argmax(-1) == test_y).double().mean())


# -- self-supervised representations (the representation paradigm, families/ssl) ---------------------


@torch.no_grad()
def knn_accuracy(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    k: int = 20,
    temperature: float = 0.07,
    chunk: int = 1000,
) -> float:
    """Weighted k-NN accuracy on cosine similarity (Wu et al. 2018, the protocol of DINO/solo-learn).

    Each test embedding votes over its k most cosine-similar train embeddings, each neighbour with
    weight exp(s / temperature); the predicted class has the largest summed weight. k is clipped to
    the training set's size. x: (N, K) float, y: (N,) int64.
    """
    train = torch.nn.functional.normalize(train_x.float().flatten(1), dim=1)  # (N, K)
    test = torch.nn.functional.normalize(test_x.float().flatten(1), dim=1)  # (M, K)
    classes = int(max(train_y.max(), test_y.max())) + 1
    k = min(k, len(train))
    correct = 0
    for i in range(0, len(test), chunk):
        sim = test[i : i + chunk] @ train.T  # (m, N) cosine similarities
        s, idx = sim.topk(k, dim=1)  # (m, k)
        votes = torch.zeros(len(s), classes).scatter_add_(1, train_y[idx], (s / temperature).exp())  # (m, C)
        correct += int((votes.argmax(1) == test_y[i : i + chunk]).sum())
    return correct / len(test)


def alignment(z_a: torch.Tensor, z_b: torch.Tensor, *, alpha: float = 2.0) -> float:
    """Wang & Isola (2020), Eq. 1: E ||f(x) - f(x+)||^alpha over positive pairs, on L2-normalized embeddings
    (0 = the two views of every example coincide; lower is better). z_a, z_b: (N, K) views of the same N."""
    a = torch.nn.functional.normalize(z_a.float(), dim=1)
    b = torch.nn.functional.normalize(z_b.float(), dim=1)
    return float((a - b).norm(dim=1).pow(alpha).mean())


def uniformity(z: torch.Tensor, *, t: float = 2.0) -> float:
    """Wang & Isola (2020), Eq. 2: log E exp(-t ||f(x) - f(y)||^2) over pairs of distinct examples, on
    L2-normalized embeddings (lower = spread more uniformly on the sphere; a collapsed encoder gives 0)."""
    z = torch.nn.functional.normalize(z.float(), dim=1)
    sq = torch.pdist(z).pow(2)  # (N (N - 1) / 2,)
    return float(sq.mul(-t).exp().mean().log())


def effective_rank(z: torch.Tensor, *, eps: float = 1e-7) -> float:
    """RankMe (Garrido et al. 2023, Eq. 1): exp(H(p)), p_k = sigma_k / ||sigma||_1 + eps, sigma the singular
    values of the (N, K) embedding matrix. Between 1 (every embedding on one line: collapse) and min(N, K)."""
    s = torch.linalg.svdvals(z.detach().float())  # (min(N, K),)
    p = s / s.sum().clamp_min(1e-12) + eps
    return float(torch.exp(-(p * p.log()).sum()))
