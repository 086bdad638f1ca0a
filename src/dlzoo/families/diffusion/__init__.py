"""Diffusion models: DDPM (Ho et al. 2020) with DDIM (Song et al. 2021a), SDE / probability-flow ODE samplers
and exact likelihood (Song et al. 2021b), and classifier-free guidance (Ho & Salimans 2022)."""
