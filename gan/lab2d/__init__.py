"""The 2D GAN lab: a tiny MLP GAN on 2D points, where everything can be drawn (after
poloclub's GAN Lab, Kahng et al. 2018).

- `model`: the MLP generator and discriminator (pure `nn.Module`s);
- `distributions`: the real data (ring, grid, two moons, line, drawn points) and their modes;
- `losses`: non-saturating, minimax, least squares and WGAN-GP;
- `settings`: `Lab2DSettings` and its presets, in one table;
- `coverage`: mode coverage and the collapse flag;
- `trainer`: one run: step D, step G, a training step;
- `render`: the live views as images (numpy + PIL);
- `service`: `Lab2D`, the runs of the page (one per session, played in time slices).
"""
