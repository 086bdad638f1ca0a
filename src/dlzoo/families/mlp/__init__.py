"""Feed-forward multilayer perceptrons for tabular data and flattened images."""
