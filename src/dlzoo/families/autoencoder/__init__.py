"""Autoencoders: vanilla, denoising (Vincent et al. 2008), sparse, contractive (Rifai et al. 2011) and
variational (Kingma & Welling 2014), each with an MLP and a convolutional variant."""
