"""Continual learning: EWC, online EWC, SI, LwF, experience replay, A-GEM, fine-tuning and joint training."""
