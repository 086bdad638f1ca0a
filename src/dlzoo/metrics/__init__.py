"""Standardized metrics: torchmetrics where it has them, our own for what it lacks.

Names are stable ``split/metric`` keys documented in each family README:
classification ``accuracy`` (top-1), ``f1_macro``, ``nll`` (mean cross-entropy, nats);
regression ``mse``, ``rmse``, ``mae``, ``r2``; generative ``nll`` (importance-sampled, nats/example),
``neg_elbo``, ``bits_per_dim``; autoencoders ``psnr``, ``probe_accuracy`` (``representation``); image
generation ``fid``, ``kid`` (``image_quality``, own feature network); 2-D mode coverage
``modes_captured``, ``high_quality_pct`` (``modes``); decoder ``checkerboard`` (``artifacts``);
reinforcement ``return_mean``, ``return_std``, ``return_median``,
``return_iqm``, ``return_ci95``; continual learning ``acc``, ``bwt``, ``fwt``, ``forgetting`` from the
accuracy matrix (``continual``).
"""

from dlzoo.metrics.continual import stream_metrics
from dlzoo.metrics.likelihood import bits_per_dim, importance_sampled_nll, log_mean_exp
from dlzoo.metrics.returns import episodic_return_stats
from dlzoo.metrics.supervised import classification_metrics, regression_metrics

__all__ = [
    "bits_per_dim",
    "classification_metrics",
    "episodic_return_stats",
    "importance_sampled_nll",
    "log_mean_exp",
    "regression_metrics",
    "stream_metrics",
]
