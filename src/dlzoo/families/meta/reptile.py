"""Reptile (Nichol, Achiam & Schulman 2018): move theta towards the weights adapted to each task.

    phi_i = U^k(theta; S_i)                      k first-order SGD steps on the task's support set
    theta <- theta + epsilon * (1/B) sum_i (phi_i - theta)          (Nichol et al. 2018, Alg. 2)

The update is handed to the one optimizer of ``train:`` as the gradient of a surrogate,
0.5 (1/B) sum_i ||theta - sg(phi_i)||^2, whose gradient is (1/B) sum_i (theta - phi_i): plain SGD with
lr = epsilon is Reptile's update exactly (the presets: sgd, momentum 0). Its expansion in alpha
(their sec. 5) gives the MAML gradient's leading terms, which is why it needs no second derivatives.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from dlzoo.families.meta.maml import MAMLObjective
from dlzoo.families.meta.objective import accuracy, inner_loop, narrow, task_loss, ways_of
from dlzoo.protocols import Losses


class ReptileObjective(MAMLObjective):
    """Reptile: the inner loop of first-order MAML, the outer step towards phi (adapt/predict shared)."""

    first_order = True

    def meta_loss(self, model: nn.Module, episodes: list[Any]) -> Losses:
        theta = dict(model.named_parameters())
        names = self.adaptable(theta)
        surrogate = torch.zeros(())
        losses, accs = [], []
        for ep in episodes:
            fast, _ = inner_loop(
                model,
                theta,
                names,
                ep.support_x,
                ep.support_y,
                steps=self.cfg.inner_steps,
                lr=self.cfg.inner_lr,
                create_graph=False,
            )
            # 0.5 ||theta - sg(phi_i)||^2: gradient theta - phi_i
            surrogate = surrogate + sum(0.5 * (theta[n] - fast[n].detach()).square().sum() for n in names)
            with torch.no_grad():  # logged only: the adapted weights on the episode's unseen queries
                out = narrow(functional_call(model, fast, (ep.query_x,)), ways_of(ep.support_y))
                losses.append(task_loss(out, ep.query_y))
                accs.append(accuracy(out, ep.query_y))
        logs = {"query_loss": torch.stack(losses).mean()}
        if not episodes[0].query_y.is_floating_point():
            logs["query_accuracy"] = torch.stack(accs).mean()
        return surrogate / len(episodes), logs
