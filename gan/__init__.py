"""GAN Studio's generators and what is done with them: models, latents, the studio service,
fine-tuning."""

DEFAULT_MODEL = "dcgan-digiface"  # the bundled face model (checkpoints/dcgan-digiface/)
