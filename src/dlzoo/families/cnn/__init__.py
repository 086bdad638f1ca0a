"""Convolutional networks: 1-D CNNs for time-series classification, a LeNet-style 2-D CNN for digits."""
