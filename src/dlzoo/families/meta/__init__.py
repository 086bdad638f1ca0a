"""Meta-learning: MAML, FOMAML, Reptile, ANIL, Prototypical and Matching Networks, Baseline++ (tasks/episodic.py)."""
