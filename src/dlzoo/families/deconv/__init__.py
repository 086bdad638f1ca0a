"""Upsampling decoders: transposed convolution, resize-convolution, sub-pixel convolution (ICNR)."""
