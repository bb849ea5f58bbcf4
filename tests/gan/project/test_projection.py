"""Projection (gan.project) on tiny random models, with a cheap stand-in perceptual loss."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from core.errors import UserInputError
from gan import latents
from gan.project import projection as P
from tests.conftest import tiny_generator
from tests.gan.sg2_tiny import one_thread, tiny_stylegan2

_one_thread = pytest.fixture(autouse=True)(one_thread)


class PyramidLoss:
    """Squared difference of the image and its 2x-downsampled copy (features(x) -> maps)."""

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x, F.avg_pool2d(x, 2)]

    def distance(self, fx, fy) -> torch.Tensor:
        return sum((a - b).pow(2).mean(dim=(1, 2, 3)) for a, b in zip(fx, fy, strict=True))


def dcgan_target(G, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(1, G.config.nz, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return z, (G(z) + 1) / 2


def settings(**kw) -> P.ProjectSettings:
    return P.ProjectSettings(**({"steps": 150, "preview_every": 50, "w_avg_samples": 200} | kw))


def test_dcgan_projection_recovers_a_generated_face():
    torch.manual_seed(0)
    G = tiny_generator()
    _, target = dcgan_target(G)
    job = P.Projection(G, target, PyramidLoss(), settings(steps=100, preview_every=25))
    events = list(job.run())
    assert [e.step for e in events] == [25, 50, 75, 100, 100]
    assert events[-1].message == "done" and events[0].preview.shape == (16, 16, 3)
    r = job.result
    mean_face = P.to_uint8(G(torch.zeros(1, 8)).detach())
    assert P.psnr(r.image, r.target) > P.psnr(mean_face, r.target) + 10
    assert events[-1].losses["distance"] < events[0].losses["distance"]
    assert r.space == "z" and r.latent.shape == (1, 8) and len(r.frames) == 4


def test_stylegan2_projection_recovers_a_generated_image():
    G = tiny_stylegan2()
    with torch.no_grad():
        ws = G.mapping(torch.randn(1, 16, generator=torch.Generator().manual_seed(5)), None)
        target = (G.synthesis(ws) + 1) / 2
    r = P.project(G, target, PyramidLoss(), settings(steps=80, pixel_weight=1.0))
    avg_ws = G.mapping.w_avg[None, None].repeat(1, G.num_ws, 1)
    with torch.no_grad():
        start = P.to_uint8(G.synthesis(avg_ws))
    assert r.space == "w" and r.latent.shape == (1, G.num_ws, 16)
    assert P.psnr(r.image, r.target) > P.psnr(start, r.target) + 10
    assert set(r.noise) and all(abs(float(n.std()) - 1) < 0.05 for n in r.noise.values())
    # the model's own noise maps are untouched (the job works on a copy)
    assert not any(b.requires_grad for b in G.buffers())


def test_w_plus_optimises_each_entry():
    G = tiny_stylegan2()
    target = torch.rand(1, 3, 16, 16)
    r = P.project(G, target, PyramidLoss(), settings(steps=20, w_plus=True, optimize_noise=False))
    assert r.latent.shape == (1, G.num_ws, 16)
    assert (r.latent[0, 0] - r.latent[0, -1]).abs().max() > 0
    assert r.noise == {}


def test_stop_keeps_the_current_result():
    G = tiny_generator()
    _, target = dcgan_target(G)
    stop = threading.Event()
    job = P.Projection(G, target, PyramidLoss(), settings(steps=1000, preview_every=5))
    events = []
    for event in job.run(stop):
        events.append(event)
        stop.set()
    assert [e.step for e in events] == [5, 5]
    assert events[-1].message == "stopped at step 5/1000"
    assert job.result.stopped and job.result.step == 5
    assert job.result.latent.abs().max() > 0  # moved from z = 0
    with torch.no_grad():
        assert np.array_equal(P.to_uint8(G(job.result.latent)), job.result.image)


def test_exported_z_round_trips_through_generates_importer(tmp_path):
    G = tiny_generator()
    _, target = dcgan_target(G)
    r = P.project(G, target, PyramidLoss(), settings(steps=30))
    npy, js = latents.save_latent(latents.Latent(r.space, r.latent), tmp_path, "projected")
    for path in (npy, js):
        z = latents.load_latent_file(path, 8)
        torch.testing.assert_close(z, r.latent)
        with torch.no_grad():
            assert np.array_equal(P.to_uint8(G(z)), r.image)


def test_exported_w_round_trips(tmp_path):
    G = tiny_stylegan2()
    r = P.project(G, torch.rand(1, 3, 16, 16), PyramidLoss(), settings(steps=10))
    for path in latents.save_latent(latents.Latent(r.space, r.latent), tmp_path, "w"):
        ws = latents.read_latent(path, "", G.z_dim, G.num_ws, 16).value
        torch.testing.assert_close(ws, r.latent)
        with torch.no_grad():
            assert np.array_equal(P.to_uint8(G.synthesis(ws)), r.image)
    bad = tmp_path / "bad.json"
    bad.write_text('{"w": [[1, 2]]}')
    with pytest.raises(UserInputError, match="shape"):
        latents.read_latent(bad, "", G.z_dim, G.num_ws, 16)


def test_schedule_matches_nvidia_projector():
    s = P.ProjectSettings()
    assert P.learning_rate(0, s) == 0.0
    assert P.learning_rate(50, s) == pytest.approx(0.1)
    assert P.learning_rate(500, s) == pytest.approx(0.1)
    assert P.learning_rate(875, s) == pytest.approx(0.1 * (0.5 - 0.5 * np.cos(0.5 * np.pi)))
    assert P.latent_noise_scale(0, s, 2.0) == pytest.approx(0.1)
    assert P.latent_noise_scale(750, s, 2.0) == 0.0


def test_noise_regularizer_and_normalisation():
    flat = torch.ones(16, 16)
    checker = torch.tensor([[(-1.0) ** (i + j) for j in range(16)] for i in range(16)])
    assert P.noise_regularizer([flat]).item() == pytest.approx(2 * 2)  # 2 scales: 16, 8
    assert P.noise_regularizer([checker]).item() == pytest.approx(2 * 1)  # pooled to 0 at 8x8
    maps = [torch.randn(8, 8) * 3 + 1]
    P.normalize_noise(maps)
    assert maps[0].mean().abs() < 1e-5 and maps[0].square().mean().item() == pytest.approx(1.0)


def test_settings_are_validated():
    with pytest.raises(UserInputError, match="steps"):
        P.ProjectSettings(steps=0)
    with pytest.raises(UserInputError, match="initial_learning_rate"):
        P.ProjectSettings(initial_learning_rate=float("nan"))
    with pytest.raises(UserInputError, match="crop size"):
        P.CropBox(size=0)


def test_prepare_target_crops_and_resizes(tmp_path):
    a = np.zeros((40, 80, 3), np.uint8)
    a[:, 60:] = 255  # white right quarter
    t = P.prepare_target(a, 16)
    assert t.shape == (1, 3, 16, 16) and t.max() == 0  # the centred square misses it
    right = P.prepare_target(a, 16, P.CropBox(x=1.0, y=0.5, size=1.0))  # moved inside
    assert right[0, :, :, -1].min() == pytest.approx(1.0)
    Image.fromarray(a).save(tmp_path / "p.png")
    assert P.prepare_target(tmp_path / "p.png", 8).shape == (1, 3, 8, 8)
    (tmp_path / "x.png").write_text("not an image")
    with pytest.raises(UserInputError):
        P.prepare_target(tmp_path / "x.png", 8)
    with pytest.raises(UserInputError, match="target must be"):
        P.Projection(tiny_generator(), torch.rand(1, 3, 8, 8), PyramidLoss())


@pytest.mark.parametrize(("width", "height"), [(103, 60), (60, 103), (101, 60), (64, 64)])
def test_the_centred_crop_is_nvidias_projectors(width, height):
    """NVIDIA's projector.py: crop((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2)."""
    s = min(width, height)
    expected = ((width - s) // 2, (height - s) // 2, (width + s) // 2, (height + s) // 2)
    assert P.CropBox().pixels(width, height) == expected


def test_w_avg_comes_from_nvidias_draws():
    """NVIDIA's projector: z from np.random.RandomState(123).randn(samples, z_dim)."""
    G = tiny_stylegan2()
    z = torch.from_numpy(np.random.RandomState(123).randn(64, G.z_dim)).float()
    with torch.no_grad():
        w = G.mapping(z, None)[:, :1]
    w_avg, std = P.w_stats(G, 64)
    assert torch.allclose(w_avg, w.mean(0, keepdim=True), atol=1e-6)
    assert std == pytest.approx(float(((w - w_avg).square().sum() / 64).sqrt()), rel=1e-5)
