"""GAN Studio: DCGAN face generation, interpolation and fine-tuning."""
