"""rosinality checkpoints (built in the layout its train.py / convert_weight.py write)."""

from __future__ import annotations

import argparse
import os

import pytest
import torch

from gan.convert import ConversionError, convert_checkpoint, layout
from gan.convert.rosinality import estimate_w_avg
from tests.gan.convert import fakes

CH = {4: 8, 8: 8, 16: 4}  # channel_base 64, channel_max 8


def _save(tmp_path, **extra) -> tuple:
    g = fakes.rosinality_state(16, 6, 3, CH, seed=3)
    ckpt = {"g_ema": g} | extra
    path = tmp_path / "ros.pt"
    torch.save(ckpt, path)
    return path, g


def test_keys_map_onto_nvidia_names(tmp_path):
    latent_avg = torch.randn(6)
    path, g = _save(tmp_path, latent_avg=latent_avg)
    out = convert_checkpoint(path)
    s = out.state
    assert torch.equal(s["mapping.fc0.weight"], g["style.1.weight"])  # style.0 is PixelNorm
    assert torch.equal(s["mapping.fc2.bias"], g["style.3.bias"])
    assert torch.equal(s["mapping.w_avg"], latent_avg)
    assert torch.equal(s["synthesis.b4.const"], g["input.input"][0])
    assert torch.equal(s["synthesis.b4.conv1.weight"], g["conv1.conv.weight"][0])
    assert torch.equal(s["synthesis.b4.conv1.affine.bias"], g["conv1.conv.modulation.bias"])
    assert s["synthesis.b4.conv1.noise_strength"].shape == ()
    assert s["synthesis.b4.conv1.noise_strength"] == g["conv1.noise.weight"][0]
    assert torch.equal(s["synthesis.b4.conv1.bias"], g["conv1.activate.bias"])
    assert torch.equal(s["synthesis.b4.conv1.noise_const"], g["noises.noise_0"][0, 0])
    assert torch.equal(s["synthesis.b4.torgb.weight"], g["to_rgb1.conv.weight"][0])
    assert torch.equal(s["synthesis.b4.torgb.bias"], g["to_rgb1.bias"].flatten())
    # convs.2 / convs.3 / to_rgbs.1 / noise_3 / noise_4 are the 16 px block
    assert torch.equal(s["synthesis.b16.conv0.weight"], g["convs.2.conv.weight"][0])
    assert torch.equal(s["synthesis.b16.conv1.affine.weight"], g["convs.3.conv.modulation.weight"])
    assert torch.equal(s["synthesis.b16.conv0.noise_const"], g["noises.noise_3"][0, 0])
    assert torch.equal(s["synthesis.b16.conv1.noise_const"], g["noises.noise_4"][0, 0])
    assert torch.equal(s["synthesis.b16.torgb.bias"], g["to_rgbs.1.bias"].flatten())
    assert torch.equal(s["synthesis.b8.resample_filter"], layout.resample_filter())
    assert s.keys() == layout.generator_shapes(out.config).keys()


def test_config_is_inferred(tmp_path):
    path, _ = _save(tmp_path, latent_avg=torch.zeros(6))
    config = convert_checkpoint(path).config
    assert config == config | {
        "model_type": "stylegan2-generator",
        "z_dim": 6,
        "w_dim": 6,
        "c_dim": 0,
        "img_resolution": 16,
        "mapping_layers": 3,
        "mapping_lr_multiplier": 0.01,
        "channel_base": 64,
        "channel_max": 8,
        "conv_clamp": None,
        "architecture": "skip",
    }


@pytest.mark.parametrize("cm", [1, 2])
def test_rosinality_channel_dict_is_channel_base_16384_times_multiplier(cm):
    channels = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm}
    channels |= {256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}
    assert layout.infer_channel_base(channels) == (16384 * cm, 512)


def test_channel_multiplier_4_needs_the_channels_override():
    channels = {4: 512, 8: 512, 16: 512, 32: 512, 64: 1024, 128: 512, 256: 256}
    with pytest.raises(ConversionError, match="channel_base"):
        layout.infer_channel_base(channels)
    fields = layout.channel_fields(channels)
    assert fields["channels"] == {str(r): c for r, c in channels.items()}
    config = fields | {"img_resolution": 256}
    assert [layout.channels_at(config, r) for r in sorted(channels)] == [
        channels[r] for r in sorted(channels)
    ]


def test_odd_channel_layout_converts_with_override(tmp_path):
    ch = {4: 8, 8: 12, 16: 4}  # grows then shrinks: no base/max rule
    path = tmp_path / "odd.pt"
    torch.save({"g_ema": fakes.rosinality_state(16, 6, 2, ch), "latent_avg": torch.zeros(6)}, path)
    out = convert_checkpoint(path)
    assert out.config["channels"] == {"4": 8, "8": 12, "16": 4}
    assert out.state["synthesis.b8.conv1.weight"].shape == (12, 12, 3, 3)


def test_training_checkpoint_with_args_d_and_no_latent_avg(tmp_path):
    d = fakes.rosinality_d_state(16, CH)
    args = argparse.Namespace(size=16, latent=6, n_mlp=3, channel_multiplier=2, lr=0.002)
    path, _ = _save(tmp_path, g=fakes.rosinality_state(16, 6, 3, CH, seed=9), d=d, args=args)
    out = convert_checkpoint(path)
    assert torch.allclose(out.state["mapping.w_avg"], estimate_w_avg(out.state, out.config))
    assert any("estimated" in note for note in out.notes)
    assert out.d_config["architecture"] == "resnet" and out.d_config["mbstd_group_size"] == 4
    assert out.d_state.keys() == layout.discriminator_shapes(out.d_config).keys()
    assert torch.equal(out.d_state["b16.fromrgb.weight"], d["convs.0.0.weight"])
    assert torch.equal(out.d_state["b16.conv1.weight"], d["convs.1.conv2.1.weight"])
    assert torch.equal(out.d_state["b8.skip.weight"], d["convs.2.skip.1.weight"])
    assert torch.equal(out.d_state["b4.out.bias"], d["final_linear.1.bias"])


def test_w_avg_estimate_is_the_mapped_mean():
    config = {"z_dim": 4, "mapping_layers": 1, "mapping_lr_multiplier": 1.0}
    state = {"mapping.fc0.weight": torch.eye(4) * 2.0, "mapping.fc0.bias": torch.full((4,), 10.0)}
    # 2/sqrt(4) * normalised z + 10 stays positive: lrelu is the identity, mean(z) ~ 0
    w = estimate_w_avg(state, config, n=20000)
    assert torch.allclose(w, torch.full((4,), 10 * 2**0.5), atol=0.1)


def test_unknown_keys_and_other_kernels_are_refused(tmp_path):
    path, g = _save(tmp_path, latent_avg=torch.zeros(6))
    torch.save({"g_ema": g | {"dwt.ll": torch.zeros(2)}}, path)
    with pytest.raises(ConversionError, match="does not know"):
        convert_checkpoint(path)
    torch.save({"g_ema": g | {"convs.0.conv.blur.kernel": torch.ones(4, 4)}}, path)
    with pytest.raises(ConversionError, match=r"\[1,3,3,1\]"):
        convert_checkpoint(path)
    torch.save({"something": g}, path)
    with pytest.raises(ConversionError, match="g_ema"):
        convert_checkpoint(path)


class _Evil:
    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_running_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "ran"
    path, g = _save(tmp_path)
    torch.save({"g_ema": g, "args": _Evil(marker)}, path)
    with pytest.raises(ConversionError, match="weights-only"):
        convert_checkpoint(path)
    assert not marker.exists()
