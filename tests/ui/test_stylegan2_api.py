"""A StyleGAN2 folder under checkpoints/ through `gradio_client`: /generate (with the new
parameters and without them), /interpolate in Z and W, /style_mix, latent round trips; and
a StyleGAN2 safetensors repo from the local Hub server at a pinned revision."""

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from core import store
from tests.conftest import launch_app
from tests.gan.sg2_models import save_tiny

SG2 = "sg2-api-tiny"
COND = "sg2-api-cond"


@pytest.fixture(scope="module")
def sg2_models(app_services):
    folder = store.checkpoints_dir()
    save_tiny(folder, SG2)
    save_tiny(folder, COND, seed=2, c_dim=4)
    yield folder
    for name in (SG2, COND):
        shutil.rmtree(folder / name, ignore_errors=True)


def _pixels(gallery) -> list[np.ndarray]:
    return [np.asarray(Image.open(item["image"]).convert("RGB")) for item in gallery]


def _zip_files(client, **request) -> dict[str, str]:
    """/faces_zip for the same request, extracted beside the zip: file name -> path."""
    archive = Path(client.predict(**request, api_name="/faces_zip"))
    folder = archive.with_suffix("")
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder)
    return {p.name: str(p) for p in folder.iterdir()}


def test_generate_stylegan2_with_the_new_parameters(client, sg2_models):
    request = dict(seeds="1-3", truncation_psi=0.7, model=SG2, truncation_cutoff=4, class_idx=0)
    gallery, latents, info = client.predict(**request, noise_mode="const", api_name="/generate")
    assert [item["caption"] for item in gallery] == ["seed 1", "seed 2", "seed 3"]
    assert "3 faces at 32x32" in info and "noise const" in info
    assert np.asarray(latents["w"]).shape == (3, 8, 16) and len(latents["z"]) == 3
    names = _zip_files(client, **request)
    assert {"grid.png", "latents.npy", "latents.json", "w.npy", "w.json"} <= set(names)
    assert Image.open(names["seed0001.png"]).size == (32, 32)  # native resolution
    assert np.load(names["w.npy"]).shape == (3, 8, 16)
    again = client.predict(
        seeds="1-3", truncation_psi=0.7, model=SG2, truncation_cutoff=4, api_name="/generate"
    )[0]
    assert all(np.array_equal(a, b) for a, b in zip(_pixels(gallery), _pixels(again), strict=True))


def test_old_style_calls_still_work_on_stylegan2(client, sg2_models):
    gallery, _, info = client.predict("5", 1.0, SG2, api_name="/generate")
    assert len(gallery) == 1 and "32x32" in info


def test_exported_w_and_z_reproduce_the_faces(client, sg2_models):
    gallery, _, _ = client.predict(
        seeds="8, 9", truncation_psi=0.5, model=SG2, api_name="/generate"
    )
    names = _zip_files(client, seeds="8, 9", truncation_psi=0.5, model=SG2)
    for name in ("w.npy", "w.json", "latents.npy", "latents.json"):
        again, _, info = client.predict(
            seeds="",
            truncation_psi=0.5,  # z is mapped again with the same ψ; w is rendered as it is
            model=SG2,
            latent_file=handle_file(names[name]),
            api_name="/generate",
        )
        same = zip(_pixels(gallery), _pixels(again), strict=True)
        assert all(np.array_equal(a, b) for a, b in same), name
    pasted, _, info = client.predict(
        latent_vector=Path(names["w.json"]).read_text(), model=SG2, api_name="/generate"
    )
    assert "rendered from w" in info and pasted[0]["caption"] == "w[0]"


def test_class_index_on_a_conditional_model(client, sg2_models):
    a = _pixels(client.predict(seeds="1", model=COND, class_idx=0, api_name="/generate")[0])
    b = _pixels(client.predict(seeds="1", model=COND, class_idx=3, api_name="/generate")[0])
    assert not np.array_equal(a[0], b[0])
    with pytest.raises(Exception, match="class_idx"):
        client.predict(seeds="1", model=COND, class_idx=4, api_name="/generate")


def test_dcgan_ignores_the_stylegan2_parameters(client):
    plain = _pixels(client.predict(seeds="3", api_name="/generate")[0])
    other = client.predict(
        seeds="3", noise_mode="random", truncation_cutoff=3, class_idx=5, api_name="/generate"
    )
    assert np.array_equal(plain[0], _pixels(other[0])[0])
    assert "w" not in other[1]  # a DCGAN has no w


@pytest.mark.parametrize("space", ["z", "w"])
def test_interpolate_stylegan2_in_z_and_w(client, sg2_models, space):
    strip, gif, _mp4, _files, info = client.predict(
        seeds="1, 2", frames=6, mode="slerp", model=SG2, space=space, api_name="/interpolate"
    )
    with Image.open(gif) as animation:
        assert animation.n_frames == 6
    assert Image.open(strip).size == (6 * 34 + 2, 36)  # native 32 px frames, 2 px padding
    assert ("lerp in W" in info) == (space == "w")


def test_style_mix_grid_gallery_and_png(client, sg2_models):
    _grid, gallery, files, info = client.predict(
        row_seeds="1, 2",
        column_seeds="3-5",
        preset="middle",
        model=SG2,
        api_name="/style_mix",
    )
    assert len(gallery) == 2 + 3 + 2 * 3
    assert gallery[0]["caption"] == "row seed 1" and gallery[-1]["caption"] == "2 + styles of 5"
    assert Image.open(files[0]).size == (4 * 34 + 2, 3 * 34 + 2)
    assert "rows take ws 4-7" in info
    custom = client.predict(
        row_seeds="7",
        column_seeds="7",
        preset="custom",
        layers="0-7",
        model=SG2,
        api_name="/style_mix",
    )
    row, col, mixed = _pixels(custom[1])
    assert np.array_equal(row, mixed) and np.array_equal(col, mixed)  # same seed: plain face


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "dcgan-digiface"}, "needs a StyleGAN2"),
        ({"model": SG2, "preset": "fine"}, "no style layers"),
        ({"model": SG2, "preset": "custom", "layers": "9"}, "0-7"),
        ({"model": SG2, "row_seeds": "1-20"}, "too many seeds"),
    ],
)
def test_style_mix_bad_input(client, sg2_models, kwargs, message):
    with pytest.raises(Exception, match=message):
        client.predict(**kwargs, api_name="/style_mix")


PINNED = "0123456789abcdef0123456789abcdef01234567"


def test_a_stylegan2_repo_from_the_hub_at_a_pinned_revision(
    tmp_path, checkpoints, hub, monkeypatch
):
    """Served by the local Hub: configured, listed, downloaded at the pinned sha, generated."""
    save_tiny(tmp_path, "hub-model", seed=3)
    for path in (tmp_path / "hub-model").iterdir():
        hub.add("faces/sg2-tiny", path.name, path.read_bytes(), revision=PINNED)
    monkeypatch.setenv("GAN_STUDIO_HUB_MODELS", f"faces/sg2-tiny@{PINNED}")
    from ui.services import build_services

    services = build_services("cpu", tmp_path / "outputs")
    name = f"faces/sg2-tiny@{PINNED}"
    assert name in services.studio.model_choices()
    demo, url = launch_app(services)
    try:
        client = Client(url, verbose=False)
        gallery, _files, info = client.predict(seeds="1, 2", model=name, api_name="/generate")
        assert len(gallery) == 2 and "32x32" in info
        mix = client.predict(row_seeds="1", column_seeds="2", model=name, api_name="/style_mix")
        assert len(mix[1]) == 3
    finally:
        demo.close()
    assert hub.count("GET", "model.safetensors") >= 1
    model_files = [path for _, path in hub.requests if "/resolve/" in path and "sg2-tiny" in path]
    assert model_files and all(PINNED in path for path in model_files)
    with pytest.raises(Exception, match="not|no model|revision"):
        services.studio.generate("faces/sg2-tiny@main", seeds=[1])
