"""The app through `gradio_client`, as a user of the API would call it (offline, on the CPU)."""

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from core import store


def _pixels(gallery) -> list[np.ndarray]:
    return [np.asarray(Image.open(item["image"]).convert("RGB")) for item in gallery]


def test_generate_three_seeds_is_deterministic(client):
    gallery, z, info = client.predict(
        seeds="1,2,3", truncation_psi=1.0, model="dcgan-digiface", api_name="/generate"
    )
    assert [item["caption"] for item in gallery] == ["seed 1", "seed 2", "seed 3"]
    first = _pixels(gallery)
    assert all(image.shape == (64, 64, 3) for image in first)  # native: the page scales up
    assert z["seeds"] == [1, 2, 3] and np.asarray(z["z"]).shape == (3, 100)
    assert not np.array_equal(first[0], first[1])
    again = _pixels(client.predict(seeds="1,2,3", api_name="/generate")[0])
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert "3 faces at 64x64" in info


def test_generate_downloads_keep_native_resolution_and_latents(client, tmp_path):
    seeded, z, _ = client.predict(seeds="5, 7", truncation_psi=0.8, api_name="/generate")
    assert z["seeds"] == [5, 7] and z["truncation_psi"] == 0.8
    packed = client.predict(seeds="5, 7", truncation_psi=0.8, api_name="/faces_zip")
    with zipfile.ZipFile(packed) as archive:
        names = archive.namelist()
        assert names == ["seed0005.png", "seed0007.png", "grid.png", "latents.npy", "latents.json"]
        archive.extractall(tmp_path)
    faces = [np.asarray(Image.open(tmp_path / n).convert("RGB")) for n in names[:2]]
    assert all(np.array_equal(a, b) for a, b in zip(faces, _pixels(seeded), strict=True))
    assert Image.open(tmp_path / "grid.png").size == (2 * 66 + 2, 68)
    zip_z = np.load(tmp_path / "latents.npy")
    assert zip_z.shape == (2, 100)
    np.testing.assert_allclose(zip_z, np.asarray(z["z"]), rtol=1e-6)
    exported = json.loads((tmp_path / "latents.json").read_text())
    assert exported["seeds"] == [5, 7] and exported["truncation_psi"] == 0.8
    # Feeding the exported latents back reproduces the same faces (psi already applied).
    again, _, _ = client.predict(
        latent_file=handle_file(str(tmp_path / "latents.npy")),
        truncation_psi=1.0,
        api_name="/generate",
    )
    assert all(np.array_equal(a, b) for a, b in zip(_pixels(again), _pixels(seeded), strict=True))


def test_generate_from_pasted_vector(client):
    z = np.zeros(100).tolist()
    gallery, _, info = client.predict(latent_vector=json.dumps(z), api_name="/generate")
    assert len(gallery) == 1 and "1 faces" in info


def test_interpolate_two_seeds_eight_frames(client):
    strip, gif, mp4, _files, info = client.predict(
        seeds="1, 2", frames=8, mode="slerp", model="dcgan-digiface", api_name="/interpolate"
    )
    with Image.open(gif) as animation:
        assert animation.n_frames == 8
    assert Image.open(strip).size == (8 * 66 + 2, 68)  # 8 native frames, 2 px padding
    assert Path(mp4).read_bytes()[4:8] == b"ftyp"  # an MP4 container
    assert "8 frames" in info


def test_interpolate_loop_and_lerp(client):
    _, gif, _, _, _info = client.predict(
        seeds="1, 2, 3", frames=4, mode="lerp", loop=True, api_name="/interpolate"
    )
    with Image.open(gif) as animation:
        assert animation.n_frames == 9  # 3 segments of 3 new frames each


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seeds": "one, two"}, "cannot read seed"),
        ({"seeds": "1-1000"}, "too many seeds"),
        ({"seeds": "1", "model": "no-such-model"}, "no model 'no-such-model'"),
        ({"seeds": "1", "model": "../../etc"}, "invalid Hub repo id"),
        ({"latent_vector": "[1, 2, 3]"}, "shape"),
        ({"latent_vector": json.dumps([float("nan")] * 100)}, "not valid JSON|NaN"),
        ({"latent_vector": "[" + ", ".join(["1e9"] * 100) + "]"}, "within"),
        ({"seeds": "1", "truncation_psi": 7.0}, "maximum"),
    ],
)
def test_generate_bad_input_is_a_clear_error_and_the_app_keeps_serving(client, kwargs, message):
    with pytest.raises(Exception, match=message):
        client.predict(**kwargs, api_name="/generate")
    assert len(client.predict(seeds="1", api_name="/generate")[0]) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seeds": "1"}, "at least two seeds"),
        ({"seeds": "1, 2", "frames": 500}, "maximum"),
        ({"seeds": "1, 2", "mode": "bezier"}, "bezier"),
        ({"seeds": ", ".join(map(str, range(20)))}, "too many seeds"),
    ],
)
def test_interpolate_bad_input(client, kwargs, message):
    with pytest.raises(Exception, match=message):
        client.predict(**kwargs, api_name="/interpolate")


def test_a_new_checkpoint_is_usable_without_a_restart(client):
    folder = store.checkpoints_dir()
    shutil.copytree(folder / "dcgan-digiface", folder / "copy-of-faces")
    try:
        gallery, _, info = client.predict(seeds="1", model="copy-of-faces", api_name="/generate")
        assert "copy-of-faces" in info and len(gallery) == 1
    finally:
        shutil.rmtree(folder / "copy-of-faces")
