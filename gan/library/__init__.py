"""My latents: the per-visitor latent library (`service.LatentLibrary`)."""
