"""MAML (Finn et al. 2017), first-order MAML and ANIL (Raghu et al. 2020): one objective, two switches.

Bi-level objective over tasks T_i with support S_i and query Q_i (Finn et al. 2017, eq. 1 and 3):

    phi_i = U^k(theta; S_i)                         k inner SGD steps of size alpha  (objective.inner_loop)
    min_theta  sum_i L(f_{phi_i}; Q_i)              the meta-loss, here ``meta_loss``

MAML backpropagates through U (second order); FOMAML treats d phi / d theta as the identity; ANIL
adapts only the head in the inner loop (the body is learned by the outer loop alone).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn
from torch.func import functional_call

from dlzoo.families.meta.objective import Adapted, accuracy, inner_loop, named_params, narrow, task_loss, ways_of
from dlzoo.paradigms import EpisodicConfig
from dlzoo.protocols import EpisodicObjective, Losses


class MAMLConfig(EpisodicConfig):
    inner_lr: float = Field(0.4, gt=0, description="alpha, the inner SGD step size (Finn: 0.4 Omniglot, 0.01 sine)")
    inner_steps: int = Field(
        1, ge=0, description="inner steps per task in training (0: no adaptation, joint pre-training)"
    )
    eval_inner_steps: int = Field(3, ge=0, description="inner steps at evaluation and the /adapt default")


class MAMLObjective(EpisodicObjective):
    """Second-order MAML: the meta-gradient flows through every inner step."""

    Config = MAMLConfig
    first_order: ClassVar[bool] = False
    head_only: ClassVar[bool] = False

    def __init__(self, cfg: MAMLConfig) -> None:
        self.cfg = cfg

    def adaptable(self, params: dict[str, torch.Tensor]) -> list[str]:
        """Names adapted in the inner loop: every parameter (MAML), or the head's (ANIL)."""
        names = [n for n, t in params.items() if t.is_floating_point() and "running_" not in n]
        return [n for n in names if "head." in n] if self.head_only else names

    def meta_loss(self, model: nn.Module, episodes: list[Any]) -> Losses:
        theta = dict(model.named_parameters())  # the tensors the optimizer steps: the graph ends here
        names = self.adaptable(theta)
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
                create_graph=not self.first_order,
            )
            out = narrow(functional_call(model, fast, (ep.query_x,)), ways_of(ep.support_y))
            losses.append(task_loss(out, ep.query_y))  # L(f_phi_i; Q_i)
            accs.append(accuracy(out.detach(), ep.query_y))
        loss = torch.stack(losses).mean()  # (1/B) sum_i L(f_phi_i; Q_i)
        logs = {"query_loss": loss.detach()}
        if not episodes[0].query_y.is_floating_point():
            logs["query_accuracy"] = torch.stack(accs).mean()
        return loss, logs

    def adapt(
        self,
        model: nn.Module,
        support_x: torch.Tensor,
        support_y: torch.Tensor,
        *,
        steps: int | None = None,
        deadline: float | None = None,
    ) -> Adapted:
        """Fast weights from detached copies of the model's weights: the model itself is never changed."""
        theta = named_params(model, detach=True)
        steps = self.cfg.eval_inner_steps if steps is None else steps
        fast, done = inner_loop(
            model,
            theta,
            self.adaptable(theta),
            support_x,
            support_y,
            steps=steps,
            lr=self.cfg.inner_lr,
            create_graph=False,
            deadline=deadline,
        )
        return Adapted({n: t.detach() for n, t in fast.items()}, ways_of(support_y), done)

    def predict(self, model: nn.Module, adapted: Adapted, query_x: torch.Tensor) -> torch.Tensor:
        """f_phi(x_Q): logits of the episode's N ways (Q, N), or predictions (Q, 1)."""
        return narrow(functional_call(model, adapted.params, (query_x,)), adapted.ways)


class FOMAMLObjective(MAMLObjective):
    """First-order MAML: grad_theta L(f_phi; Q) ~ grad_phi L(f_phi; Q) (Finn et al. 2017, sec. 5.2)."""

    first_order: ClassVar[bool] = True


class ANILObjective(MAMLObjective):
    """ANIL (Raghu et al. 2020): the inner loop adapts the head only; second order through it."""

    head_only: ClassVar[bool] = True


def now_plus(seconds: float | None) -> float | None:
    """A deadline ``seconds`` from now on the monotonic clock (None: no deadline)."""
    return None if seconds is None else time.monotonic() + seconds
