"""z or w latents for StyleGAN2: reading .npy/.json files and pasted JSON, shapes, round trips."""

import json

import numpy as np
import pytest
import torch

from core.errors import UserInputError
from gan import latents


def test_w_json_and_npy_round_trip_exactly(tmp_path):
    w = torch.randn(3, 6, 8) * 3
    (tmp_path / "w.json").write_text(latents.w_json(w, noise_mode="const"))
    np.save(tmp_path / "w.npy", w.numpy())
    for name in ("w.json", "w.npy"):
        got = latents.read_latent(tmp_path / name, "", 4, 6, 8)
        assert got.space == "w" and torch.equal(got.value, w)


def test_z_json_and_npy_round_trip_exactly(tmp_path):
    z = torch.randn(2, 4)
    (tmp_path / "z.json").write_text(latents.latents_json(z, [1, 2], 0.5, class_idx=0))
    np.save(tmp_path / "z.npy", z.numpy())
    for name in ("z.json", "z.npy"):
        got = latents.read_latent(tmp_path / name, "", 4, 6, 8)
        assert got.space == "z" and torch.equal(got.value, z)


def test_pasted_text_and_broadcast_w():
    assert latents.read_latent(None, "", 4, 6, 8) is None
    assert latents.read_latent(None, "[1, 2, 3, 4]", 4, 6, 8).space == "z"
    one = latents.read_latent(None, json.dumps({"w": [0.5] * 8}), 4, 6, 8)
    assert one.value.shape == (1, 6, 8) and (one.value == 0.5).all()  # every layer
    project_style = json.dumps({"space": "w", "w": [[[0.0] * 8] * 6]})  # the Project tab's
    assert latents.read_latent(None, project_style, 4, 6, 8).value.shape == (1, 6, 8)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[[0, 0]]]", "shape"),
        (json.dumps({"w": [[[float("inf")] * 8] * 6]}), "NaN or infinite|not valid JSON"),
        ("[1, 2", "not valid JSON"),
        (json.dumps({"w": [[[0.0] * 8] * 6] * 65}), "between 1 and 64"),
    ],
)
def test_bad_w_latents(text, message):
    with pytest.raises(UserInputError, match=message):
        latents.read_latent(None, text, 4, 6, 8)


def test_a_pickled_npy_is_refused(tmp_path):
    path = tmp_path / "evil.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UserInputError, match="cannot read evil.npy"):
        latents.read_latent(path, "", 4, 6, 8)


def test_one_size_limit_for_every_latent_file_z_or_w(tmp_path):
    """Edit and Project once read W+ files up to 16 MB; every latent file now has one limit."""
    for name in ("w.json", "w.npy", "z.json"):
        path = tmp_path / name
        path.write_bytes(b" " * (latents.MAX_LATENT_FILE_BYTES + 1))
        with pytest.raises(UserInputError, match="too large"):
            latents.read_latent(path, "", 4, 6, 8)
    assert latents.MAX_LATENT_FILE_BYTES == 4 * 2**20  # the README's Security table


def test_one_writer_and_reader_round_trip_z_and_w_with_seeds_and_settings(tmp_path):
    z = latents.Latent("z", torch.randn(2, 4), [1, 2], {"truncation_psi": 0.5, "class_idx": 0})
    w = latents.Latent("w", torch.randn(1, 6, 8), None, {"noise_mode": "const"})
    for latent in (z, w):
        for path in latents.save_latent(latent, tmp_path, latent.space):
            got = latents.read_latent(path, "", 4, 6, 8)
            assert got.space == latent.space
            torch.testing.assert_close(got.value, latent.value)
    saved = json.loads((tmp_path / "z.json").read_text())
    assert saved["seeds"] == [1, 2] and saved["truncation_psi"] == 0.5
    with pytest.raises(UserInputError, match="w latent"):
        latents.read_latent(tmp_path / "w.npy", "", 4)  # a model without a W space
