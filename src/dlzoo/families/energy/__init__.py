"""Energy-based models: restricted Boltzmann machines, Hopfield networks (classical and modern), a Langevin EBM."""
