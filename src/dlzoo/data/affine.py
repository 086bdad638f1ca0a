"""Random affine distortions of few-shot images (Koch et al. 2015, sec. 3.2), drawn from a torch.Generator.

Koch et al. trained their Siamese network on Omniglot with a small random affine transform per image:
rotation theta in [-10, 10] degrees, shear rho_x, rho_y in [-0.3, 0.3] (radians), scale s_x, s_y in
[0.8, 1.2] and translation t_x, t_y in [-2, 2] pixels, each component kept with probability 1/2.
:class:`AffineJitter` draws those parameters from the caller's generator (so an episode sampler
seeded by (seed, round) replays them exactly) and warps with kornia about the image centre:

    x'(p) = x(M^-1 p),   M = T(t) C R(theta) S(s) H(rho) C^-1     (kornia's get_affine_matrix2d)

Pixels from outside the image are 0 (background: strokes are 1 after ``dlzoo.data.fewshot``'s inversion).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AffineJitter:
    """One random affine transform per image; ``translate`` in pixels (Koch et al.: 2 px at 105x105)."""

    degrees: float = 10.0
    shear: float = 0.3
    scale: tuple[float, float] = (0.8, 1.2)
    translate: float = 2.0
    p: float = 0.5  # probability of each of the four components

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """x (B, C, H, W) -> (B, C, H, W), the same transform for the channels of one image."""
        import kornia.geometry.transform as KT

        if x.ndim != 4:
            raise ValueError(f"affine jitter takes images (B, C, H, W), got shape {tuple(x.shape)}")
        b, _, h, w = x.shape
        u = torch.rand(b, 7, generator=gen) * 2 - 1  # (B, 7) in [-1, 1): angle, 2 shears, 2 scales, 2 shifts
        keep = (torch.rand(b, 4, generator=gen) < self.p).float()  # (B, 4) rotation, shear, scale, shift
        angle = self.degrees * u[:, 0] * keep[:, 0]
        sx, sy = (self.shear * u[:, 1:3] * keep[:, 1:2]).unbind(1)
        lo, hi = self.scale
        scale = 1 + keep[:, 2:3] * ((lo + hi) / 2 - 1 + (hi - lo) / 2 * u[:, 3:5])  # (B, 2)
        shift = self.translate * u[:, 5:7] * keep[:, 3:4]  # (B, 2)
        center = torch.tensor([(w - 1) / 2, (h - 1) / 2]).expand(b, 2)
        m = KT.get_affine_matrix2d(shift, center, scale, angle, sx, sy)  # (B, 3, 3)
        return KT.warp_affine(x.float(), m[:, :2], (h, w), align_corners=True).to(x.dtype)

    def describe(self) -> str:
        return (
            f"affine: rotation +-{self.degrees:g} deg, shear +-{self.shear:g} rad, scale {self.scale[0]:g}-"
            f"{self.scale[1]:g}, shift +-{self.translate:g} px, each with p={self.p:g}"
        )
