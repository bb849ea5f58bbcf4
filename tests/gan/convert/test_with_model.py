"""Converted folders load into this project's StyleGAN2 (`gan.models.stylegan2`) unchanged.

Needs the StyleGAN2 modules (branch sg2-model); skipped where they are absent.
"""

from __future__ import annotations

import io

import pytest
import torch

from gan.convert import cli, convert_network_pickle, layout
from gan.convert._compat import store
from tests.gan.convert import fakes

sg2 = pytest.importorskip("gan.models.stylegan2")
sg2_d = pytest.importorskip("gan.models.stylegan2_d")


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"c_dim": 3},
        {"architecture": "resnet"},
        {"architecture": "orig", "img_resolution": 8},
        {"use_noise": False},
        {"c_dim": 2, "mapping_embed_features": 4, "mapping_layer_features": 6},
        {"channels": {"4": 8, "8": 12, "16": 4}},
    ],
)
def test_generator_layout_is_the_modules(changes):
    config = fakes.tiny_g_config() | changes
    G = sg2.StyleGAN2Generator(sg2.StyleGAN2Config.from_dict(config))
    assert layout.generator_shapes(config) == _shapes(G)


@pytest.mark.parametrize(
    "changes", [{}, {"c_dim": 3, "cmap_dim": 8}, {"architecture": "skip"}, {"architecture": "orig"}]
)
def test_discriminator_layout_is_the_modules(changes):
    config = fakes.tiny_d_config() | changes
    D = sg2_d.StyleGAN2Discriminator(sg2_d.StyleGAN2DiscriminatorConfig.from_dict(config))
    assert layout.discriminator_shapes(config) == _shapes(D)


def test_converted_pickle_loads_strictly_and_generates(tmp_path, checkpoints):
    gc, dc = fakes.tiny_g_config(c_dim=2), fakes.tiny_d_config(c_dim=2)
    g = fakes.random_state(layout.generator_shapes(gc), seed=7)
    d = fakes.random_state(layout.discriminator_shapes(dc), seed=8)
    path = tmp_path / "net.pkl"
    path.write_bytes(fakes.nvidia_pickle_bytes(gc, g, dc, d))
    assert cli.main([str(path), "--name", "sg2"]) == 0
    folder = store.resolve("sg2")
    G = sg2.StyleGAN2Generator(sg2.StyleGAN2Config.from_dict(store.read_config(folder))).eval()
    G.load_state_dict(store.read_safetensors(folder / "model.safetensors"), strict=True)
    z, c = torch.randn(2, 8), torch.eye(2)
    with torch.no_grad():
        img = G(z, c, noise_mode="const")
        assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()
        assert torch.equal(img, G(z, c, noise_mode="const"))


def test_rosinality_checkpoint_loads_strictly(tmp_path):
    path = tmp_path / "r.pt"
    ch = {4: 8, 8: 12, 16: 4}
    g = fakes.rosinality_state(16, 6, 2, ch)
    torch.save(
        {"g_ema": g, "latent_avg": torch.zeros(6), "d": fakes.rosinality_d_state(16, ch)}, path
    )
    from gan.convert import convert_checkpoint

    out = convert_checkpoint(path)
    G = sg2.StyleGAN2Generator(sg2.StyleGAN2Config.from_dict(out.config)).eval()
    G.load_state_dict(out.state, strict=True)
    D = sg2_d.StyleGAN2Discriminator(sg2_d.StyleGAN2DiscriminatorConfig.from_dict(out.d_config))
    D.load_state_dict(out.d_state, strict=True)
    with torch.no_grad():
        assert D(G(torch.randn(4, 6))).shape == (4, 1)


def test_truncation_zero_gives_the_w_avg_image():
    gc = fakes.tiny_g_config()
    g = fakes.random_state(layout.generator_shapes(gc), seed=9)
    out = convert_network_pickle(io.BytesIO(fakes.nvidia_pickle_bytes(gc, g)))
    G = sg2.StyleGAN2Generator(sg2.StyleGAN2Config.from_dict(out.config)).eval()
    G.load_state_dict(out.state, strict=True)
    with torch.no_grad():
        a = G(torch.randn(1, 8), truncation_psi=0.0)
        b = G.synthesis(g["mapping.w_avg"].expand(1, G.num_ws, 8), noise_mode="const")
    assert torch.allclose(a, b, atol=1e-6)
