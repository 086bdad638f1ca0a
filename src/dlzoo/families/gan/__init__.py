"""GANs: GAN, DCGAN, WGAN-GP and PacGAN on the adversarial paradigm (tasks/adversarial.py)."""
