"""Continual learning: EWC, online EWC, SI, LwF, experience replay, A-GEM, GDumb, iCaRL, PackNet,
fine-tuning and joint training."""
