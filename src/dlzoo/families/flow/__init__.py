"""Normalizing flows: RealNVP (Dinh et al. 2017), MAF (Papamakarios et al. 2017), Glow (Kingma & Dhariwal
2018) and neural spline flows (Durkan et al. 2019): invertible maps with an exact log-likelihood."""
