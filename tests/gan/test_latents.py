"""Seeds, user latents, truncation and interpolation paths."""

import json

import numpy as np
import pytest
import torch

from core.errors import UserInputError
from gan import latents


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1-8, 42", [1, 2, 3, 4, 5, 6, 7, 8, 42]),
        ("3", [3]),
        (" 5 - 7 ;9 10", [5, 6, 7, 9, 10]),
        ("42, 1", [42, 1]),
        (7, [7]),
    ],
)
def test_parse_seeds(text, expected):
    assert latents.parse_seeds(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one seed"),
        ("   ", "at least one seed"),
        ("abc", "cannot read seed 'abc'"),
        ("1.5", "cannot read seed"),
        ("-3", "cannot read seed"),
        ("9-2", "runs backwards"),
        ("0-64", "too many seeds"),
        ("0-10000000000", "too many seeds"),
        ("4294967296", "between 0 and 4294967295"),
    ],
)
def test_parse_seeds_rejects(text, message):
    with pytest.raises(UserInputError, match=message):
        latents.parse_seeds(text)


def test_seeds_are_deterministic_and_independent_of_batch():
    both = latents.seeds_to_z([3, 4], 100)
    assert both.shape == (2, 100)
    assert torch.equal(both[1], latents.seeds_to_z([4], 100)[0])
    assert not torch.equal(both[0], both[1])
    assert abs(float(both.std()) - 1.0) < 0.2  # N(0, I)


def test_truncation_scales_towards_mean():
    z = latents.seeds_to_z([1], 10)
    assert torch.allclose(latents.truncate(z, 0.5), z * 0.5)
    for bad in (-0.1, 2.5, float("nan")):
        with pytest.raises(UserInputError, match="truncation_psi"):
            latents.truncate(z, bad)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1.0, 2.0], r"shape \(4,\) or \(N, 4\)"),
        ([[1, 2, 3, 4, 5]], "shape"),
        ([1.0, float("nan"), 0, 0], "NaN or infinite"),
        ([1.0, float("inf"), 0, 0], "NaN or infinite"),
        ([1.0, 1e6, 0, 0], "within"),
        (np.zeros((0, 4)), "between 1 and"),
        (np.zeros((65, 4)), "between 1 and"),
    ],
)
def test_validate_z_rejects(value, message):
    with pytest.raises(UserInputError, match=message):
        latents.validate_z(np.asarray(value, dtype=np.float64), 4)


def test_latent_text_round_trip():
    z = latents.seeds_to_z([1, 2], 4)
    text = latents.latents_json(z, [1, 2], 0.7)
    assert json.loads(text)["seeds"] == [1, 2]
    assert torch.allclose(latents.parse_latent_text(text, 4), z)
    assert latents.parse_latent_text("[0.5, 0, 0, 1]", 4).shape == (1, 4)
    with pytest.raises(UserInputError, match="not valid JSON"):
        latents.parse_latent_text("[0.5, ", 4)
    with pytest.raises(UserInputError, match="list of numbers"):
        latents.parse_latent_text('["a", "b", "c", "d"]', 4)


def test_latent_files(tmp_path):
    z = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    assert np.allclose(latents.load_latent_file(tmp_path / "z.npy", 4).numpy(), z)
    (tmp_path / "z.json").write_text(json.dumps(z.tolist()))
    assert latents.load_latent_file(tmp_path / "z.json", 4).shape == (3, 4)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UserInputError, match="cannot read obj.npy"):
        latents.load_latent_file(tmp_path / "obj.npy", 4)  # never unpickled
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(UserInputError, match="cannot read bad.npy"):
        latents.load_latent_file(tmp_path / "bad.npy", 4)
    (tmp_path / "z.txt").write_text("[1, 2, 3, 4]")
    with pytest.raises(UserInputError, match=r"\.npy or \.json"):
        latents.load_latent_file(tmp_path / "z.txt", 4)


def test_interpolation_path_counts_and_endpoints():
    keys = latents.seeds_to_z([1, 2, 3], 16)
    path = latents.interpolation_path(keys[:2], 8, "lerp")
    assert path.shape == (8, 16)
    assert torch.allclose(path[0], keys[0]) and torch.allclose(path[-1], keys[1], atol=1e-6)
    assert latents.interpolation_path(keys, 8, "slerp").shape == (15, 16)
    looped = latents.interpolation_path(keys, 8, "slerp", loop=True)
    assert looped.shape == (21, 16)
    assert torch.allclose(looped[0], keys[0])
    assert not torch.allclose(looped[-1], keys[0])  # the repeated first frame is dropped


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    z0, z1 = latents.seeds_to_z([10, 11], 512)
    t = torch.tensor([0.5])
    mid_lerp = latents.lerp(z0, z1, t)[0].norm()
    mid_slerp = latents.slerp(z0, z1, t)[0].norm()
    ends = (z0.norm() + z1.norm()) / 2
    assert mid_lerp < 0.8 * ends  # lerp cuts through the low-density middle of the Gaussian
    assert torch.isclose(mid_slerp, ends, rtol=1e-4)
    same = latents.slerp(z0, z0, torch.linspace(0, 1, 3))
    assert torch.allclose(same, z0.expand(3, -1), atol=1e-5)


@pytest.mark.parametrize(
    ("keys", "frames", "mode", "message"),
    [
        (1, 8, "slerp", "at least two"),
        (2, 1, "slerp", "between 2 and"),
        (2, 10_000, "slerp", "between 2 and"),
        (2, 8, "spline", "mode must be"),
        (16, 100, "lerp", "at most 600"),
    ],
)
def test_interpolation_rejects(keys, frames, mode, message):
    with pytest.raises(UserInputError, match=message):
        latents.interpolation_path(latents.seeds_to_z(list(range(keys)), 4), frames, mode)
