"""GAN objectives: the critic and generator losses, sampling, and what the adversarial task asks.

Goodfellow et al. (2014), eq. 1, the minimax game over D (a probability) and G:

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))]

With D = sigmoid(f) (f: the critic's logit), the critic minimises the binary cross-entropy

    L_D = -log sigmoid(f(x)) - log(1 - sigmoid(f(G(z)))) = softplus(-f(x)) + softplus(f(G(z)))

and, instead of minimising log(1 - D(G(z))), which saturates when D rejects G's samples early on,
the generator minimises the non-saturating loss of Sec. 3:

    L_G = -log D(G(z)) = softplus(-f(G(z)))

Gulrajani et al. (2017), Algorithm 1 (WGAN-GP), with x~ = G(z), x^ = eps x + (1 - eps) x~,
eps ~ U[0, 1] per example:

    L_D = D(x~) - D(x) + lambda (||grad_x^ D(x^)||_2 - 1)^2,    L_G = -D(G(z))

PacGAN (Lin et al. 2018) keeps the GAN losses; only the critic's input changes (see model.py).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from dlzoo.metrics.modes import PROTOCOL_SAMPLES
from dlzoo.protocols import AdversarialObjective, Losses


class AdversarialConfig(BaseModel):
    """The ``task:`` section of every adversarial model (two Adam optimizers, n_critic, evaluation)."""

    model_config = ConfigDict(extra="forbid")

    lr_g: float = Field(2e-4, gt=0, description="generator Adam learning rate (DCGAN: 2e-4)")
    lr_d: float = Field(2e-4, gt=0, description="critic Adam learning rate (DCGAN: 2e-4)")
    betas_g: tuple[float, float] = Field((0.5, 0.999), description="generator Adam betas (DCGAN: beta1 0.5)")
    betas_d: tuple[float, float] = Field((0.5, 0.999), description="critic Adam betas")
    n_critic: int = Field(1, ge=1, description="critic steps (one batch each) per generator step")
    eval_samples: int = Field(PROTOCOL_SAMPLES, ge=1, description="samples drawn per evaluation (2-D toys: 2500)")
    fid_features: str | None = Field(
        None,
        description="path to the run of a classifier trained on the image domain: its features give "
        "FID/KID (dlzoo.metrics.image_quality); None = no FID/KID",
    )
    fid_samples: int = Field(10000, ge=2, description="generated and real images compared by the final FID/KID")
    val_fid_samples: int = Field(0, ge=0, description="images per val FID/KID during training (0 = skip)")


class GANObjective(AdversarialObjective):
    """Non-saturating GAN (Goodfellow et al. 2014, Sec. 3); also DCGAN and PacGAN's losses."""

    Config = AdversarialConfig

    def __init__(self, cfg: AdversarialConfig) -> None:
        self.cfg = cfg

    # -- training: both losses are computed through the (Fabric-wrapped) generator and critic ---------
    def critic_loss(
        self,
        generator: Any,
        critic: Any,
        x: torch.Tensor,
        z: torch.Tensor,
        generator_noise: torch.Generator | None = None,
    ) -> Losses:
        """L_D = softplus(-f(x)) + softplus(f(G(z))), mean over the batch (G is not updated)."""
        with torch.no_grad():
            fake = generator(z)  # (B, *input_shape)
        real_logit, fake_logit = critic(x), critic(fake)  # (B / pack, 1) each
        loss = F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()
        return loss, {"d_real": torch.sigmoid(real_logit).mean(), "d_fake": torch.sigmoid(fake_logit).mean()}

    def generator_loss(self, generator: Any, critic: Any, z: torch.Tensor) -> Losses:
        """L_G = -log D(G(z)) = softplus(-f(G(z))) (the non-saturating loss)."""
        fake_logit = critic(generator(z))  # (B / pack, 1)
        return F.softplus(-fake_logit).mean(), {}

    # -- the sampler (evaluation, figures, and served by pipeline.py) ---------------------------------
    @staticmethod
    @torch.no_grad()
    def sample(model: Any, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """x = G(z), z ~ N(0, I): (n, *input_shape); images in [0, 1] (sigmoid output), points in R^2."""
        device = next(model.parameters()).device
        z = torch.randn(n, model.latent_dim, generator=generator).to(device)  # (n, D)
        was_training = model.training
        model.eval()  # BatchNorm uses its running statistics: a sample does not depend on its batch
        x = model.generator(z)
        model.train(was_training)
        return x


class WGANGPObjective(GANObjective):
    """WGAN with gradient penalty (Gulrajani et al. 2017, Algorithm 1)."""

    class Config(AdversarialConfig):
        lr_g: float = Field(1e-4, gt=0, description="generator Adam learning rate (Alg. 1: alpha = 1e-4)")
        lr_d: float = Field(1e-4, gt=0, description="critic Adam learning rate (Alg. 1: alpha = 1e-4)")
        betas_g: tuple[float, float] = Field((0.0, 0.9), description="Adam betas (Alg. 1: beta1 0, beta2 0.9)")
        betas_d: tuple[float, float] = Field((0.0, 0.9), description="Adam betas (Alg. 1: beta1 0, beta2 0.9)")
        n_critic: int = Field(5, ge=1, description="critic iterations per generator iteration (Alg. 1: 5)")
        gp_weight: float = Field(10.0, ge=0, description="lambda of the gradient penalty (Alg. 1: 10)")

    def critic_loss(
        self,
        generator: Any,
        critic: Any,
        x: torch.Tensor,
        z: torch.Tensor,
        generator_noise: torch.Generator | None = None,
    ) -> Losses:
        """L_D = D(x~) - D(x) + lambda (||grad D(x^)||_2 - 1)^2, x^ on the line between x and x~."""
        with torch.no_grad():
            fake = generator(z)  # (B, *input_shape)
        eps = torch.rand((len(x),) + (1,) * (x.ndim - 1), generator=generator_noise).to(x)  # (B, 1, ...)
        # x^ = eps x + (1 - eps) x~
        x_hat = (eps * x + (1 - eps) * fake).requires_grad_(True)  # (B, *input_shape)
        d_real, d_fake, d_hat = critic(x), critic(fake), critic(x_hat)  # (B / pack, 1) each
        (grad,) = torch.autograd.grad(d_hat.sum(), x_hat, create_graph=True)  # (B, *input_shape)
        # (||grad_x^ D(x^)||_2 - 1)^2, averaged over the batch
        gp = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
        wasserstein = d_real.mean() - d_fake.mean()  # the critic's estimate of W(P_r, P_g)
        loss = -wasserstein + self.cfg.gp_weight * gp
        return loss, {"gp": gp, "wasserstein": wasserstein}

    def generator_loss(self, generator: Any, critic: Any, z: torch.Tensor) -> Losses:
        """L_G = -D(G(z))."""
        return -critic(generator(z)).mean(), {}
