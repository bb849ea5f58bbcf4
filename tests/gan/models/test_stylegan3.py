"""The plain-PyTorch StyleGAN3 generator: its config, layer schedule, filters, ops and camera.
Its images against NVIDIA's own code: tests/gan/convert/test_stylegan3_pickle.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gan import models
from gan.models.stylegan3 import (
    GENERATOR_TYPE,
    StyleGAN3Config,
    StyleGAN3Generator,
    camera_transform,
    make_transform,
    set_camera,
)
from gan.models.stylegan3_ops import filtered_lrelu, lowpass_filter, modulated_conv2d

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "stylegan3"


def tiny(**kw) -> StyleGAN3Generator:
    values = dict(
        z_dim=8, w_dim=8, img_resolution=16, channel_base=256, channel_max=12, num_layers=4
    )
    values |= {"margin_size": 2, **kw}
    torch.manual_seed(0)
    return StyleGAN3Generator(StyleGAN3Config(**values)).eval().requires_grad_(False)


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def test_layer_names_and_num_ws_follow_the_schedule():
    G = tiny()
    assert G.num_ws == G.config.num_layers + 2 == 6
    names = G.synthesis.layer_names
    assert len(names) == 5 and names[-1].endswith("_16_3")  # ToRGB at the image size
    assert [n.split("_")[0] for n in names] == ["L0", "L1", "L2", "L3", "L4"]
    assert len(G.affine_layers()) == G.num_ws == len(G.affine_ws_index())
    assert G(torch.randn(2, 8)).shape == (2, 3, 16, 16)


def test_registry_builds_it_from_a_config_json_dict():
    G = models.build(GENERATOR_TYPE, tiny().config.to_dict())
    assert isinstance(G, StyleGAN3Generator) and G.config == tiny().config
    assert StyleGAN3Config.from_dict({**G.config.to_dict(), "unknown": 1}) == G.config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"img_resolution": 24}, "power of two"),
        ({"num_critical": 4}, "num_critical"),
        ({"channel_max": 5000}, "channel_max"),
        ({"conv_clamp": -1}, "conv_clamp"),
        ({"first_cutoff": 9.0}, "first_cutoff"),
        ({"first_stopband": 0.01}, "below twice its cutoff"),
        ({"first_cutoff": 3.9, "first_stopband": 2.0}, "below twice its cutoff"),
    ],
)
def test_bad_configs_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        tiny(**change)


def test_fresh_filters_equal_the_reference_designs():
    """Kaiser-windowed sinc (T) and jinc (R) filters of a fresh model equal the ones NVIDIA's
    scipy design put into the fixture pickles' buffers."""
    from gan.convert.nvidia_pickle import convert_network_pickle

    for name in ("sg3t", "sg3r"):
        with open(FIXTURES / f"{name}.pkl", "rb") as f:
            out = convert_network_pickle(f)
        fresh = models.build(GENERATOR_TYPE, out.config).state_dict()
        filters = [k for k in out.state if k.endswith("_filter")]
        assert filters and any(out.state[k].ndim == 2 for k in filters) == (name == "sg3r")
        for k in filters:
            assert torch.allclose(fresh[k], out.state[k], atol=1e-7), k


def test_lowpass_filter_passes_dc_and_stops_above_the_band():
    f = lowpass_filter(24, cutoff=4.0, width=4.0, fs=32.0).double()
    response = torch.fft.rfft(F.pad(f, [0, 1000])).abs()
    freqs = torch.fft.rfftfreq(1024, d=1 / 32.0)
    assert f.sum().item() == pytest.approx(1.0) and lowpass_filter(1, 1.0, 1.0, 2.0) is None
    assert response[freqs > 8.5].max() < 0.01 < response[freqs < 2].min()


def test_filtered_lrelu_without_filters_is_bias_lrelu_gain_clamp():
    x, b = torch.randn(2, 3, 5, 5) * 10, torch.randn(3)
    y = filtered_lrelu(x, None, None, b, 1, 1, (0, 0, 0, 0), gain=2.0, slope=0.2, clamp=4.0)
    expected = (F.leaky_relu(x + b.reshape(1, -1, 1, 1), 0.2) * 2).clamp(-4, 4)
    assert torch.allclose(y, expected)


def test_filtered_lrelu_resamples_with_nvidias_sizes():
    """Output size = (in * up + pads - (taps_u - 1) - (taps_d - 1) + down - 1) // down."""
    fu, fd = lowpass_filter(12, 4, 3, 32), lowpass_filter(12, 4, 3, 32)
    x = torch.randn(1, 2, 20, 20)
    y = filtered_lrelu(x, fu, fd, torch.zeros(2), 2, 2, (11, 10, 11, 10))
    assert y.shape[-1] == (20 * 2 + 21 - 11 - 11 + 1) // 2
    flat = filtered_lrelu(torch.ones(1, 1, 20, 20), fu, fd, torch.zeros(1), 2, 2, (11, 10, 11, 10))
    assert torch.allclose(flat[..., 6:-6, 6:-6], torch.full_like(flat[..., 6:-6, 6:-6], 2**0.5))


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_fused_equals_shared_weight_path(demodulate):
    x, w, s = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(3, 4)
    gain = torch.tensor(0.7)
    fused = modulated_conv2d(x, w, s, gain, demodulate, padding=2, fused=True)
    shared = modulated_conv2d(x, w, s, gain, demodulate, padding=2, fused=False)
    assert fused.shape == (3, 5, 8, 8) and torch.allclose(fused, shared, atol=1e-5)


def test_an_image_does_not_depend_on_its_batch():
    G, z = tiny(), torch.randn(3, 8)
    batch = G(z)
    alone = G(z[1:2])
    assert (batch[1:2] - alone).abs().max().item() < 1e-5


def test_make_transform_is_gen_images_matrix_and_set_camera_its_inverse():
    m = make_transform((0.2, -0.1), 15.0)
    c, s = math.cos(math.radians(15)), math.sin(math.radians(15))
    assert torch.allclose(m, torch.tensor([[c, s, 0.2], [-s, c, -0.1], [0, 0, 1]]).double())
    G = tiny()
    set_camera(G, (0.2, -0.1), 15.0)
    assert torch.allclose(G.synthesis.input.transform.double() @ m, torch.eye(3).double())
    set_camera(G)
    assert torch.equal(G.synthesis.input.transform, torch.eye(3))


def test_a_camera_passed_per_call_equals_set_camera_and_leaves_the_model_alone():
    """A request's camera goes in as `transform=`: same picture, shared buffer untouched."""
    G = tiny()
    ws = G.mapping(torch.randn(2, 8), None)
    moved = G.synthesis(ws, transform=camera_transform((0.2, -0.1), 15.0))
    assert torch.equal(G.synthesis.input.transform, torch.eye(3))
    set_camera(G, (0.2, -0.1), 15.0)
    assert torch.allclose(moved, G.synthesis(ws), atol=1e-6)
    assert (moved - tiny().synthesis(ws)).abs().mean().item() > 1e-3


def test_a_quarter_turn_rotates_the_picture():
    """StyleGAN3-R (1x1 convolutions, radial filters): turning the camera by 90 degrees turns
    the image by 90 degrees, exactly on its symmetric pixel grid."""
    G = tiny(img_resolution=32, margin_size=8, conv_kernel=1, use_radial_filters=True)
    z = torch.randn(1, 8)
    still = G(z)
    set_camera(G, angle=90.0)
    turned = G(z)
    assert (turned - torch.rot90(still, 1, dims=(2, 3))).abs().max().item() < 1e-5
    assert (turned - still).abs().mean().item() > 1e-2


def test_class_conditional_model_needs_its_labels():
    G = tiny(c_dim=3)
    c = torch.eye(3)
    assert G(torch.randn(3, 8), c).shape == (3, 3, 16, 16)
    with pytest.raises(ValueError, match="conditional"):
        G(torch.randn(3, 8))


def test_truncation_cutoff_moves_only_the_first_ws():
    G = tiny()
    z = torch.randn(2, 8)
    G.mapping.w_avg.normal_()
    full = G.mapping(z, None, truncation_psi=0.5)
    cut = G.mapping(z, None, truncation_psi=0.5, truncation_cutoff=2)
    plain = G.mapping(z, None)
    assert torch.allclose(cut[:, :2], full[:, :2]) and torch.allclose(cut[:, 2:], plain[:, 2:])


def test_magnitude_ema_moves_only_when_asked():
    G = tiny()
    ws = G.mapping(torch.randn(2, 8), None)
    before = {k: v.clone() for k, v in G.state_dict().items() if k.endswith("magnitude_ema")}
    G.synthesis(ws)
    assert all(torch.equal(G.state_dict()[k], v) for k, v in before.items())
    G.synthesis(ws, update_emas=True)
    assert all(not torch.equal(G.state_dict()[k], v) for k, v in before.items())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 layers run on a GPU only")
def test_fp16_top_layers_on_the_gpu_stay_close_to_fp32():
    G = tiny(num_fp16_res=2).cuda()
    z = torch.randn(2, 8, device="cuda")
    assert any(getattr(G.synthesis, n).use_fp16 for n in G.synthesis.layer_names)
    fp16, fp32 = G(z), G(z, force_fp32=True)
    assert fp16.dtype == torch.float32 and (fp16 - fp32).abs().mean().item() < 1e-2
