"""Residual networks: residual MLPs for tabular data, residual/plain 1-D and 2-D conv nets."""
