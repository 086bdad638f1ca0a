"""Neural architecture search: search spaces as data, strategies as Optuna samplers, a NAS-Bench-201-style
cell registered as a model (``nas_cell``), a tabular benchmark and its simulator, and DARTS."""
