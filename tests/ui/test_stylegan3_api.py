"""Converted NVIDIA StyleGAN3-T and -R pickles (tests/fixtures/stylegan3) through the API:
/faces_zip gives NVIDIA's own images, still and with the camera moved; the camera does not
leak between requests; and every tab answers with a StyleGAN3."""

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import store
from gan.convert import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stylegan3"
MODELS = {"sg3t": "sg3-api-t", "sg3r": "sg3-api-r"}
CAMERA = dict(translate_x=0.2, translate_y=-0.1, rotate=15.0)
BOUND = 1.5 / 255  # the acceptance: mean absolute difference in [0, 1] image units


@pytest.fixture(scope="module")
def sg3_models(app_services):
    folder = store.checkpoints_dir()
    for pickle, name in MODELS.items():
        assert cli.main([str(FIXTURES / f"{pickle}.pkl"), "--name", name]) == 0
    yield folder
    for name in MODELS.values():
        shutil.rmtree(folder / name, ignore_errors=True)


def reference(pickle: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{pickle}.npz") as data:
        return dict(data)


def zip_faces(client, **request) -> np.ndarray:
    """/faces_zip's face PNGs (face0000.png or seed0001.png, ...) in [0, 1], (N, H, W, 3)."""
    archive = Path(client.predict(**request, api_name="/faces_zip"))
    with zipfile.ZipFile(archive) as z:
        names = sorted(n for n in z.namelist() if n.startswith(("face", "seed")))
        return np.stack([np.asarray(Image.open(z.open(n)).convert("RGB")) for n in names]) / 255


def nvidia_images(ref: dict, key: str) -> np.ndarray:
    """NVIDIA's float images in [-1, 1] (N, 3, H, W) as [0, 1] (N, H, W, 3)."""
    return ((ref[key].transpose(0, 2, 3, 1) + 1) / 2).clip(0, 1)


@pytest.mark.parametrize("pickle", sorted(MODELS))
@pytest.mark.parametrize("psi", [1.0, 0.7])
@pytest.mark.parametrize("moved", [False, True])
def test_faces_zip_gives_nvidias_images(client, sg3_models, pickle, psi, moved):
    """NVIDIA's z (and, for the conditional R model, each sample's class) as a pasted latent."""
    ref = reference(pickle)
    classes = ref["c"].argmax(1) if ref["c"].shape[1] else np.zeros(len(ref["z"]), int)
    expected = nvidia_images(ref, f"img_psi{psi:.1f}" + ("_moved" if moved else ""))
    for c in sorted(set(classes.tolist())):
        keep = classes == c
        request = dict(seeds="", truncation_psi=psi, model=MODELS[pickle], class_idx=c)
        request["latent_vector"] = json.dumps(ref["z"][keep].tolist())
        faces = zip_faces(client, **request, **(CAMERA if moved else {}))
        diff = np.abs(faces - expected[keep]).mean()
        assert diff < BOUND, f"{pickle} psi {psi} class {c} moved {moved}: {diff * 255:.3f}/255"


def test_the_camera_does_not_leak_into_the_next_request(client, sg3_models):
    request = dict(seeds="1-2", truncation_psi=1.0, model=MODELS["sg3t"])
    still = zip_faces(client, **request)
    moved = zip_faces(client, **request, **CAMERA)
    assert np.abs(moved - still).mean() > 0.5 / 255  # a low-contrast random model
    assert np.array_equal(zip_faces(client, **request), still)
