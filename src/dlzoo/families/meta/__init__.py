"""Meta-learning: MAML, first-order MAML, Reptile, ANIL, Prototypical and Matching Networks, Baseline++ on the episodic paradigm (tasks/episodic.py)."""
