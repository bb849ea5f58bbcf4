"""NVIDIA stylegan3 pickles (StyleGAN3-T, -R and the repo's StyleGAN2), converted without their
code, give NVIDIA's own images and D logits (tests/fixtures/stylegan3, made by
tests/scripts/make_stylegan3_fixtures.py with NVIDIA's code)."""

from __future__ import annotations

import io
import pickle
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from gan import models
from gan.convert import ConversionError, convert_network_pickle
from gan.convert.nvidia_pickle import Converted, flat_refs, load_networks
from gan.models.stylegan2_d import StyleGAN2Discriminator, StyleGAN2DiscriminatorConfig
from gan.models.stylegan3 import set_camera
from tests.gan.convert import fakes

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "stylegan3"
# mean absolute difference in [-1, 1] image units; the acceptance bound is 1.5/255 in [0, 255]
# units (3/255 here). Float rounding alone leaves about 1e-7.
TOLERANCE = 1e-5


@cache
def converted(name: str) -> Converted:
    with open(FIXTURES / f"{name}.pkl", "rb") as f:
        return convert_network_pickle(f)


def reference(name: str, n: int = 2) -> dict[str, torch.Tensor]:
    """The first `n` latents (and labels) with NVIDIA's outputs for them (4 are stored)."""
    with np.load(FIXTURES / f"{name}.npz") as data:
        return {k: torch.from_numpy(v[:n]) for k, v in data.items()}


def generator(name: str) -> torch.nn.Module:
    out = converted(name)
    G = models.build(out.config["model_type"], out.config)
    G.load_state_dict(out.state)  # strict: NVIDIA's keys, nothing missing or left over
    return G.eval().requires_grad_(False)


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def mean_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().mean().item()


@pytest.mark.parametrize(
    ("name", "family", "kernel", "radial", "c_dim"),
    [("sg3t", "stylegan3-generator", 3, False, 0), ("sg3r", "stylegan3-generator", 1, True, 4)],
)
def test_stylegan3_config_comes_from_the_init_kwargs(name, family, kernel, radial, c_dim):
    c = converted(name).config
    assert (c["model_type"], c["conv_kernel"], c["use_radial_filters"], c["c_dim"]) == (
        family,
        kernel,
        radial,
        c_dim,
    )
    assert c["conv_clamp"] == 256.0 and c["img_resolution"] == 32


@pytest.mark.parametrize("name", ["sg3t", "sg3r"])
def test_keys_equal_nvidias(name):
    with open(FIXTURES / f"{name}.pkl", "rb") as f:
        refs = flat_refs(load_networks(f)["G_ema"], "G_ema")
    G = generator(name)
    assert list(G.state_dict()) == list(refs)


@pytest.mark.parametrize("name", ["sg3t", "sg3r", "sg2"])
@pytest.mark.parametrize("psi", [1.0, 0.7])
def test_images_equal_nvidias(name, psi):
    G, ref = generator(name), reference(name)
    img = G(ref["z"], ref["c"], truncation_psi=psi, noise_mode="const")
    assert mean_abs(img, ref[f"img_psi{psi}"]) < TOLERANCE


@pytest.mark.parametrize("name", ["sg3t", "sg3r"])
@pytest.mark.parametrize("psi", [1.0, 0.7])
def test_translated_and_rotated_images_equal_nvidias(name, psi):
    G, ref = generator(name), reference(name)
    set_camera(G, (0.2, -0.1), 15.0)
    moved = G(ref["z"], ref["c"], truncation_psi=psi)
    assert mean_abs(moved, ref[f"img_psi{psi}_moved"]) < TOLERANCE
    assert mean_abs(moved, ref[f"img_psi{psi}"]) > 100 * TOLERANCE  # the camera did move
    set_camera(G)  # back to the identity: the untransformed image again
    assert mean_abs(G(ref["z"], ref["c"], truncation_psi=psi), ref[f"img_psi{psi}"]) < TOLERANCE


@pytest.mark.parametrize("name", ["sg3t", "sg3r", "sg2"])
def test_discriminator_logits_equal_nvidias(name):
    out, ref = converted(name), reference(name, 4)  # all 4: the minibatch-std groups
    D = StyleGAN2Discriminator(StyleGAN2DiscriminatorConfig.from_dict(out.d_config))
    D.load_state_dict(out.d_state)
    logits = D.eval()(ref["img_psi1.0"], ref["c"])
    assert (logits - ref["d_logits"]).abs().max().item() < 1e-4


def test_stylegan2_of_the_stylegan3_repo_reads_its_flat_synthesis_kwargs():
    c = converted("sg2").config
    assert c["model_type"] == "stylegan2-generator"
    assert (c["channel_base"], c["channel_max"], c["conv_clamp"]) == (192, 24, 256.0)
    assert c["num_fp16_res"] == 2 and c["w_avg_beta"] == 0.998


def _other_pickle(flat: dict[str, tuple[int, ...]]) -> bytes:
    state = fakes.random_state(flat)
    with fakes.reference_globals():
        G = fakes.module_tree(state, "Generator", {"z_dim": 8}, "class Generator: pass\n")
        buf = io.BytesIO()
        pickle.dump({"G": G, "G_ema": G, "augment_pipe": None}, buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("flat", "found"),
    [
        ({"synthesis.superres.weight": (4, 4), "mapping.fc0.weight": (8, 8)}, "'superres'"),
        ({"backbone.weight": (4, 4), "mapping.fc0.weight": (8, 8)}, "'backbone'"),
    ],
)
def test_another_family_is_refused_naming_what_it_is(flat, found):
    with pytest.raises(ConversionError) as e:
        convert_network_pickle(io.BytesIO(_other_pickle(flat)))
    message = str(e.value)
    assert "no family this converter reads" in message and found in message
    assert "StyleGAN3-T/-R" in message and "StyleGAN2" in message


def test_an_unknown_stylegan3_argument_is_refused(monkeypatch):
    """An init kwarg NVIDIA's code would pass on to its layers could change the network."""
    with open(FIXTURES / "sg3t.pkl", "rb") as f:
        data = load_networks(f)
    data["G_ema"].state["_init_kwargs"]["use_quantum_filters"] = True
    monkeypatch.setattr("gan.convert.nvidia_pickle.load_network_pickle", lambda f: data)
    with pytest.raises(ConversionError, match="use_quantum_filters"):
        convert_network_pickle(io.BytesIO(b""))


def test_a_stylegan3_config_out_of_range_is_refused(monkeypatch):
    with open(FIXTURES / "sg3r.pkl", "rb") as f:
        data = load_networks(f)
    data["G_ema"].state["_init_kwargs"]["num_critical"] = 9  # over num_layers
    monkeypatch.setattr("gan.convert.nvidia_pickle.load_network_pickle", lambda f: data)
    with pytest.raises(ConversionError, match="num_critical"):
        convert_network_pickle(io.BytesIO(b""))


def test_cli_writes_a_stylegan3_folder_with_its_card(tmp_path, checkpoints):
    """`python -m gan.convert` through the sandbox: config, NVIDIA-keyed weights, D, card."""
    from gan.convert import cli
    from gan.convert._compat import store

    assert cli.main([str(FIXTURES / "sg3r.pkl"), "--name", "tiny-sg3r"]) == 0
    folder = store.resolve("tiny-sg3r")
    assert store.read_config(folder) == converted("sg3r").config
    weights = store.read_safetensors(folder / "model.safetensors")
    assert all(torch.equal(weights[k], v) for k, v in converted("sg3r").state.items())
    assert (folder / "discriminator.safetensors").is_file()
    card = (folder / "README.md").read_text()
    assert "StyleGAN3-R generator" in card and "conditional on 4 classes" in card
    assert "sg3r.pkl" in card and "NVIDIA Source Code License-NC" in card


@pytest.mark.parametrize(("given", "expected"), [("absent", 256.0), (None, None), (64, 64.0)])
def test_stylegan3_repos_stylegan2_clamps_as_its_code_does(monkeypatch, given, expected):
    """networks_stylegan2 of the stylegan3 repo clamps at 256 when conv_clamp is not given."""
    with open(FIXTURES / "sg2.pkl", "rb") as f:
        data = load_networks(f)
    kwargs = data["G_ema"].state["_init_kwargs"]
    del kwargs["conv_clamp"]
    if given != "absent":
        kwargs["conv_clamp"] = given
    monkeypatch.setattr("gan.convert.nvidia_pickle.load_network_pickle", lambda f: data)
    assert convert_network_pickle(io.BytesIO(b"")).config["conv_clamp"] == expected
