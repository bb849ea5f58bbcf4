"""NVIDIA network pickles (in the training loop's layout) -> config and NVIDIA-keyed tensors."""

from __future__ import annotations

import io
import pickle

import pytest
import torch

from gan.convert import ConversionError, convert_network_pickle, layout
from tests.gan.convert import fakes

# NVIDIA Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3,
# mapping num_layers=2, channel_base=64, channel_max=8).state_dict(), as the reference prints it
NVIDIA_G8_KEYS = {
    "synthesis.b4.const": (8, 4, 4),
    "synthesis.b4.resample_filter": (4, 4),
    **{
        f"synthesis.b{r}.{layer}.{k}": s
        for r, layers in ((4, ["conv1"]), (8, ["conv0", "conv1"]))
        for layer in layers
        for k, s in {
            "weight": (8, 8, 3, 3),
            "noise_strength": (),
            "bias": (8,),
            "resample_filter": (4, 4),
            "noise_const": (r, r),
            "affine.weight": (8, 8),
            "affine.bias": (8,),
        }.items()
    },
    **{
        f"synthesis.b{r}.torgb.{k}": s
        for r in (4, 8)
        for k, s in {
            "weight": (3, 8, 1, 1),
            "bias": (3,),
            "affine.weight": (8, 8),
            "affine.bias": (8,),
        }.items()
    },
    "synthesis.b8.resample_filter": (4, 4),
    "mapping.w_avg": (8,),
    "mapping.fc0.weight": (8, 8),
    "mapping.fc0.bias": (8,),
    "mapping.fc1.weight": (8, 8),
    "mapping.fc1.bias": (8,),
}
# NVIDIA Discriminator(c_dim=2, img_resolution=8, channel_base=64, channel_max=8, mapping 1 layer)
NVIDIA_D8_KEYS = {
    "b8.resample_filter": (4, 4),
    "b8.fromrgb.weight": (8, 3, 1, 1),
    "b8.fromrgb.bias": (8,),
    "b8.fromrgb.resample_filter": (4, 4),
    "b8.conv0.weight": (8, 8, 3, 3),
    "b8.conv0.bias": (8,),
    "b8.conv0.resample_filter": (4, 4),
    "b8.conv1.weight": (8, 8, 3, 3),
    "b8.conv1.bias": (8,),
    "b8.conv1.resample_filter": (4, 4),
    "b8.skip.weight": (8, 8, 1, 1),
    "b8.skip.resample_filter": (4, 4),
    "mapping.embed.weight": (8, 2),
    "mapping.embed.bias": (8,),
    "mapping.fc0.weight": (8, 8),
    "mapping.fc0.bias": (8,),
    "b4.conv.weight": (8, 9, 3, 3),
    "b4.conv.bias": (8,),
    "b4.conv.resample_filter": (4, 4),
    "b4.fc.weight": (8, 128),
    "b4.fc.bias": (8,),
    "b4.out.weight": (8, 8),
    "b4.out.bias": (8,),
}


def _pair(c_dim: int = 0, res: int = 16):
    gc, dc = fakes.tiny_g_config(c_dim, res), fakes.tiny_d_config(c_dim, res)
    g = fakes.random_state(layout.generator_shapes(gc), seed=1)
    d = fakes.random_state(layout.discriminator_shapes(dc), seed=2)
    return gc, g, dc, d


def test_layout_matches_nvidia_key_lists():
    g_cfg = fakes.tiny_g_config(0, 8)
    assert layout.generator_shapes(g_cfg) == NVIDIA_G8_KEYS
    d_cfg = fakes.tiny_d_config(2, 8) | {"mapping_layers": 1}
    assert layout.discriminator_shapes(d_cfg) == NVIDIA_D8_KEYS


@pytest.mark.parametrize("c_dim", [0, 3])
def test_pickle_gives_config_and_exact_tensors(c_dim):
    gc, g, dc, d = _pair(c_dim)
    out = convert_network_pickle(io.BytesIO(fakes.nvidia_pickle_bytes(gc, g, dc, d)))
    assert out.config == gc
    assert out.d_config == dc
    assert out.state.keys() == g.keys() and out.d_state.keys() == d.keys()
    assert all(torch.equal(out.state[k], g[k]) for k in g)
    assert all(torch.equal(out.d_state[k], d[k]) for k in d)


def test_the_raw_g_is_kept_beside_g_ema():
    gc, g, dc, d = _pair(0)
    raw = {k: v + 1 if v.is_floating_point() else v for k, v in g.items()}
    out = convert_network_pickle(io.BytesIO(fakes.nvidia_pickle_bytes(gc, g, dc, d, raw_state=raw)))
    assert all(torch.equal(out.g_train_state[k], raw[k]) for k in raw)
    assert all(torch.equal(out.state[k], g[k]) for k in g)  # what generation uses: G_ema


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_reads(protocol):
    gc, g, _, _ = _pair()
    out = convert_network_pickle(io.BytesIO(fakes.nvidia_pickle_bytes(gc, g, protocol=protocol)))
    assert torch.equal(out.state["synthesis.b16.conv1.weight"], g["synthesis.b16.conv1.weight"])
    assert out.d_state is None


def test_lr_multiplier_is_the_layers_own_gain():
    gc, g, _, _ = _pair()
    data = fakes.nvidia_pickle_bytes(gc, g)
    assert convert_network_pickle(io.BytesIO(data)).config["mapping_lr_multiplier"] == 0.01


def test_state_that_does_not_match_its_config_is_refused():
    gc, g, _, _ = _pair()
    g["synthesis.b8.conv0.weight"] = torch.zeros(8, 8, 1, 1)
    with pytest.raises(ConversionError, match="wrong shapes"):
        convert_network_pickle(io.BytesIO(fakes.nvidia_pickle_bytes(gc, g)))
    gc2, g2, _, _ = _pair()
    del g2["mapping.w_avg"]
    with pytest.raises(ConversionError, match="missing"):
        convert_network_pickle(io.BytesIO(fakes.nvidia_pickle_bytes(gc2, g2)))


def test_pickle_without_g_ema_is_refused():
    with pytest.raises(ConversionError, match="G_ema"):
        convert_network_pickle(io.BytesIO(pickle.dumps({"G": 1})))
    # a TF-era pickle: a tuple of dnnlib.tflib.network.Network objects -> refused by name
    with pytest.raises(ConversionError, match="refusing"):
        convert_network_pickle(io.BytesIO(b"\x80\x02cdnnlib.tflib.network\nNetwork\n)\x81."))


def test_truncated_pickle_is_a_clear_error():
    gc, g, _, _ = _pair()
    data = fakes.nvidia_pickle_bytes(gc, g)
    with pytest.raises(ConversionError, match="not a readable network pickle"):
        convert_network_pickle(io.BytesIO(data[: len(data) // 2]))


def test_missing_init_kwargs_are_a_clear_error(monkeypatch):
    gc, g, _, _ = _pair()
    monkeypatch.setattr(fakes, "g_init_kwargs", lambda config: {"z_dim": 8})
    with pytest.raises(ConversionError, match="no integer init kwarg 'c_dim'"):
        convert_network_pickle(io.BytesIO(fakes.nvidia_pickle_bytes(gc, g)))


def test_snapshot_with_augment_pipe_reads():
    gc, g, _, _ = _pair()
    state = {"p": torch.tensor(0.3), "Hz_geom": torch.randn(12)}
    pipe = fakes.module_tree(state, "AugmentPipe", {"xflip": 1, "rotate90": 1}, "src")
    data = fakes.nvidia_pickle_bytes(gc, g, extra={"augment_pipe": pipe})
    out = convert_network_pickle(io.BytesIO(data))
    assert torch.equal(out.state["mapping.w_avg"], g["mapping.w_avg"])


def test_only_latin1_codec_calls_are_allowed():
    # protocol 2 writes bytes as _codecs.encode(text, 'latin1'); any other codec is refused
    data = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(ConversionError, match="codec"):
        convert_network_pickle(io.BytesIO(data))
