"""Project: GAN inversion (`projection`), its built-in examples, and the Project service
(`service.Projector`)."""
