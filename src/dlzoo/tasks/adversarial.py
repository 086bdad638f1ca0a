"""Adversarial paradigm: a generator and a critic trained against each other with two optimizers.

One model module holds ``generator`` and ``critic`` (one ``model.safetensors``); each is wrapped by
Fabric on its own (``fabric.setup_module``), so the losses run through the wrapped forwards and DDP
synchronizes both networks' gradients. Per round (one epoch of ``TensorBatches(x)``):

    for each batch x:                                   # a critic step
        z ~ N(0, I);  theta_D <- Adam(grad L_D(x, G(z)))
        every n_critic-th critic step:                  # then one generator step
            z ~ N(0, I);  theta_G <- Adam(grad L_G(G(z)))
            yield train/loss_d, train/loss_g (+ the objective's diagnostics, e.g. train/gp)

All noise (z, the gradient penalty's interpolation eps) comes from one ``torch.Generator`` whose
state is in ``state_dict`` with both optimizers, so a resumed run replays the same steps.

The family objective (``families/gan/objective.py``) supplies:

- ``Config``: the ``task:`` section: lr_g, lr_d, betas_g, betas_d, n_critic, evaluation sizes,
  ``fid_features`` (the run of a classifier whose features give FID/KID);
- ``critic_loss(G, D, x, z, noise) -> (loss, logs)`` and ``generator_loss(G, D, z) -> (loss, logs)``;
- ``sample(model, n, generator)`` (also served through the family's pipeline).

(``dlzoo.protocols.AdversarialObjective``; the model has ``generator``, ``critic``, ``latent_dim`` and
``pack``, the critic's samples per score.) ``train.lr``, ``train.optimizer``, ``train.momentum`` and
``train.weight_decay`` are not read: setting one is a ConfigError (``dlzoo.paradigms``).

Evaluation: ``<split>/critic_gap`` (mean critic output on held-out real minus generated examples);
on the 2-D ``ring``/``grid`` toys ``<split>/modes_captured``, ``<split>/high_quality_pct`` and
``<split>/mode_kl`` (``dlzoo.metrics.modes``; these use generated samples and the mixture's known
centers only, so they are reported even for a split the data does not have); on images with
``task.fid_features`` set, ``<split>/fid``, ``<split>/kid``, ``<split>/kid_std`` against that split's
real images (``dlzoo.metrics.image_quality``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Iterator

import torch

from dlzoo.config import ConfigError
from dlzoo.optim import make_scheduler
from dlzoo.paradigms import ADVERSARIAL_EVAL_SEED as EVAL_SEED  # evaluation draws (z): reproducible numbers
from dlzoo.tasks.base import Context, Logs, TensorBatches, build_model, gradients_inside_the_loss, load_data
from dlzoo.tasks.supervised import record_info

EVAL_CHUNK = 500  # examples per forward pass during evaluation (bounds memory on images)


def toy_modes(data_cfg: dict[str, Any]) -> Any:
    """The known mixture of a ``ring`` or ``grid`` dataset (its resolved loader args), else None."""
    from dlzoo.data.toy2d import grid_modes, ring_modes

    if data_cfg["name"] == "ring":
        return ring_modes(n_modes=data_cfg["n_modes"], radius=data_cfg["radius"], std=data_cfg["std"])
    if data_cfg["name"] == "grid":
        return grid_modes(std=data_cfg["std"])
    return None


class AdversarialTask:
    dynamic_dims = ({0: "batch"},)  # z: (batch, latent_dim)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        Objective = ctx.spec.objective
        self.objective = Objective(Objective.Config(**ctx.cfg.task))
        self._features: Any = None

    def setup(self) -> None:
        ctx, fabric, t, c = self.ctx, self.ctx.fabric, self.ctx.train, self.objective.cfg
        self.data = load_data(ctx)
        record_info(ctx, self.data.info)
        self.model = build_model(ctx, {"input_shape": tuple(self.data.info.input_shape)})
        self.pack = int(self.model.pack)
        if t.batch_size // fabric.world_size < self.pack:
            raise ConfigError(
                f"train.batch_size per process ({t.batch_size // fabric.world_size}) must be >= "
                f"the critic's pack ({self.pack})"
            )
        self.modes = toy_modes(ctx.cfg.data)
        if c.fid_features is not None:
            self._features = self._load_features(c.fid_features)
        self.fgen = fabric.setup_module(self.model.generator)
        self.fcritic = fabric.setup_module(self.model.critic)
        opt_g = torch.optim.Adam(self.model.generator.parameters(), lr=c.lr_g, betas=tuple(c.betas_g))
        opt_d = torch.optim.Adam(self.model.critic.parameters(), lr=c.lr_d, betas=tuple(c.betas_d))
        self.opt_g, self.opt_d = fabric.setup_optimizers(opt_g, opt_d)
        if t.scheduler == "plateau":
            raise ConfigError(
                "train.scheduler=plateau: the generator and the critic have no one training loss to watch; "
                "set train.scheduler to none, cosine or step"
            )
        self.schedulers = [s for s in (make_scheduler(self.opt_g, t), make_scheduler(self.opt_d, t)) if s is not None]
        self.batches = TensorBatches(
            self.data.train.x,
            batch_size=t.batch_size,
            seed=t.seed,
            rank=fabric.global_rank,
            world=fabric.world_size,
            device=fabric.device,
        )
        # z and eps: one CPU generator per process (ranks draw different noise), saved with the optimizers
        self.noise = torch.Generator().manual_seed(1_000_003 * (t.seed + 1) + fabric.global_rank)

    @staticmethod
    def _load_features(path: str) -> Any:
        try:
            from dlzoo.metrics.image_quality import feature_extractor
        except ImportError as e:  # pragma: no cover - the module ships with the package
            raise ConfigError(f"task.fid_features is set but dlzoo.metrics.image_quality is unavailable: {e}") from None
        if not Path(path).is_dir():
            raise ConfigError(
                f"task.fid_features: {path} is not a run directory (train one with `dlzoo train lenet --preset mnist`)"
            )
        return feature_extractor(path)

    def num_rounds(self) -> int:
        return self.ctx.train.epochs

    def z(self, n: int) -> torch.Tensor:
        """n latent codes z ~ N(0, I) from the task's noise generator: (n, latent_dim)."""
        return torch.randn(n, self.model.latent_dim, generator=self.noise).to(self.ctx.fabric.device)

    def _step(self, optimizer: Any, module: Any, loss: torch.Tensor) -> None:
        fabric, clip = self.ctx.fabric, self.ctx.train.grad_clip
        optimizer.zero_grad(set_to_none=True)
        fabric.backward(loss)
        if clip is not None:
            fabric.clip_gradients(module, optimizer, max_norm=clip)
        optimizer.step()

    def train_round(self, round_idx: int) -> Iterator[Logs]:
        self.fgen.train()
        self.fcritic.train()
        n_critic, critic_steps = self.objective.cfg.n_critic, 0
        for (x,) in self.batches.epoch(round_idx):
            b = len(x) - len(x) % self.pack  # the critic sees whole packs only
            if b == 0:
                continue
            x = x[:b]  # (b, *input_shape)
            with gradients_inside_the_loss():  # WGAN-GP's penalty differentiates the critic inside its loss
                loss_d, logs_d = self.objective.critic_loss(self.fgen, self.fcritic, x, self.z(b), self.noise)
            self._step(self.opt_d, self.fcritic, loss_d)
            critic_steps += 1
            if critic_steps % n_critic:
                continue
            loss_g, logs_g = self.objective.generator_loss(self.fgen, self.fcritic, self.z(b))
            self._step(self.opt_g, self.fgen, loss_g)
            logs = {**logs_d, **logs_g}
            yield {
                "train/loss_d": loss_d.detach(),
                "train/loss_g": loss_g.detach(),
                **{f"train/{k}": v.detach() for k, v in logs.items()},
            }
        for s in self.schedulers:
            s.step()

    @torch.no_grad()
    def generate(self, n: int) -> torch.Tensor:
        """n samples with the evaluation seed, in chunks: (n, *input_shape) on the CPU."""
        g = torch.Generator().manual_seed(EVAL_SEED)
        chunks = [self.objective.sample(self.model, min(EVAL_CHUNK, n - i), g).cpu() for i in range(0, n, EVAL_CHUNK)]
        return torch.cat(chunks)

    @torch.no_grad()
    def evaluate(self, split: str, *, final: bool = False) -> dict[str, float]:
        c, out = self.objective.cfg, {}
        self.model.eval()
        if self.modes is not None:  # the VEEGAN / PacGAN protocol: needs samples and the centers only
            from dlzoo.metrics.modes import mode_coverage

            out.update({f"{split}/{k}": v for k, v in mode_coverage(self.generate(c.eval_samples), self.modes).items()})
        part = getattr(self.data, split, None)
        if part is None:
            return out
        n = min(len(part.x), c.eval_samples)
        n -= n % self.pack
        if n:  # mean critic output on held-out real minus generated examples
            dev, chunk = self.ctx.fabric.device, EVAL_CHUNK - EVAL_CHUNK % self.pack
            d_real = torch.cat([self.model.critic(r.to(dev)).cpu() for r in part.x[:n].split(chunk)])
            d_fake = torch.cat([self.model.critic(f.to(dev)).cpu() for f in self.generate(n).split(chunk)])
            out[f"{split}/critic_gap"] = float(d_real.mean() - d_fake.mean())
        m = min(len(part.x), c.fid_samples if final else c.val_fid_samples)
        if self._features is not None and m >= 2:
            from dlzoo.metrics.image_quality import generation_metrics

            scores = generation_metrics(
                self.generate(m), part.x[:m], features=self._features, kid_subset_size=min(1000, m)
            )
            out.update({f"{split}/{k}": v for k, v in scores.items()})
        return out

    def state_dict(self) -> dict[str, Any]:
        state = {"opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "noise": self.noise.get_state()}
        for i, s in enumerate(self.schedulers):
            state[f"scheduler_{i}"] = s.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.noise.set_state(state["noise"])
        for i, s in enumerate(self.schedulers):
            s.load_state_dict(state[f"scheduler_{i}"])

    def example_inputs(self, n: int) -> tuple[torch.Tensor]:
        """forward's input for n examples: z (n, latent_dim) (forward is the generator + its critic score)."""
        return (torch.randn(n, self.model.latent_dim, generator=torch.Generator().manual_seed(0)),)

    def plots(self, folder: Path) -> list[Path]:
        return self.ctx.spec.plots.draw(self.objective, self.model, self.data, folder, modes=self.modes)
