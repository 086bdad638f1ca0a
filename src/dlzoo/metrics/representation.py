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
