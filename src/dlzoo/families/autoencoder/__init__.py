"""Autoencoders; the variational autoencoder (Kingma & Welling 2014): MLP and convolutional."""
