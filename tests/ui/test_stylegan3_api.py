"""Converted NVIDIA StyleGAN3-T and -R pickles (tests/fixtures/stylegan3) through the API:
/faces_zip gives NVIDIA's own images, still and with the camera moved; the camera does not
leak between requests; and every tab answers with a StyleGAN3."""

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from core import store
from core.errors import UserInputError
from gan.convert import cli
from gan.generate.faces import FacesRequest, SG2Settings
from tests.conftest import SHARED_IMAGES

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


def frames_of(gif: str) -> list[np.ndarray]:
    with Image.open(gif) as animation:
        return [
            np.asarray(animation.seek(i) or animation.convert("RGB")).astype(int)
            for i in range(animation.n_frames)
        ]


@pytest.mark.parametrize("space", ["z", "w"])
def test_interpolate_walks_the_latent_and_can_move_the_camera(client, sg3_models, space):
    walk = dict(seeds="1, 2", frames=4, mode="lerp", model=MODELS["sg3r"], space=space)
    _strip, gif, _mp4, _files, info = client.predict(**walk, api_name="/interpolate")
    still = frames_of(gif)
    assert len(still) == 4 and ("lerp in W" in info) == (space == "w")
    turning = dict(rotate=0.0, rotate_end=90.0)  # same latents, the camera turns a quarter
    _strip, gif, _mp4, _files, _info = client.predict(**walk, **turning, api_name="/interpolate")
    moving = frames_of(gif)
    assert np.array_equal(moving[0], still[0])  # the first frame's camera is still
    assert not np.array_equal(moving[-1], still[-1])


def test_style_mix_presets_fit_stylegan3s_ws(client, sg3_models):
    """The tiny T has 8 ws (6 layers + 2): coarse 0-2, middle 3-4, fine 5-7 (thirds)."""
    for preset, ws in [("coarse", "0-2"), ("middle", "3-4"), ("fine", "5-7")]:
        _grid, gallery, _files, info = client.predict(
            row_seeds="1",
            column_seeds="2, 3",
            preset=preset,
            model=MODELS["sg3t"],
            api_name="/style_mix",
        )
        assert len(gallery) == 1 + 2 + 2 and f"rows take ws {ws}" in info


def test_edit_moves_a_stylegan3_face_along_sefa_directions(client, sg3_models):
    still, *_ = client.predict(model=MODELS["sg3t"], seed=3, api_name="/edit")
    moved, _strip, _files, latent, _info = client.predict(
        model=MODELS["sg3t"], seed=3, direction_0=3.0, api_name="/edit"
    )
    assert not np.array_equal(pixels(moved), pixels(still))
    assert np.asarray(json.loads(latent)["w"]).shape == (1, 8, 10)


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


@pytest.mark.parametrize("w_plus", [False, True])
def test_project_a_photo_into_stylegan3(client, sg3_models, w_plus):
    photo = str(SHARED_IMAGES / "brad_pitt.jpg")
    live, info, *_rest, latent = client.predict(
        photo=handle_file(photo),
        model=MODELS["sg3t"],
        steps=4,
        preview_every=2,
        w_plus=w_plus,
        api_name="/project",
    )
    assert "Done" in info and json.loads(latent)["space"] == "w"
    assert pixels(live).shape[2] == 3


def test_judge_with_the_stylegan2_d_of_a_stylegan3_pickle(client, sg3_models):
    logits, gallery, _table = client.predict(
        images=[], model=MODELS["sg3t"], seeds="1-2", api_name="/judge"
    )
    assert len(logits) == 2 and all(np.isfinite(logits)) and len(gallery) == 2


@pytest.mark.parametrize("camera", [{"translate_x": 5.0}, {"rotate": 1e9}])
def test_a_camera_out_of_range_is_a_clear_error(client, sg3_models, camera):
    with pytest.raises(Exception, match="greater than maximum"):  # the sliders' bounds
        client.predict(seeds="1", model=MODELS["sg3t"], **camera, api_name="/generate")


@pytest.mark.parametrize(
    ("camera", "message"),
    [((5.0, 0, 0), "translate_x and translate_y"), ((0, 0, float("nan")), "rotate must")],
)
def test_the_studio_refuses_a_camera_out_of_range(app_services, sg3_models, camera, message):
    request = FacesRequest("1", 1.0, sg2=SG2Settings(camera=camera))
    with pytest.raises(UserInputError, match=message):
        app_services.studio.faces_request(MODELS["sg3t"], request)


def test_generate_says_nothing_of_noise_for_stylegan3(client, sg3_models):
    gallery, latents, info = client.predict(seeds="1-2", model=MODELS["sg3t"], api_name="/generate")
    assert len(gallery) == 2 and "2 faces at 32x32" in info and "noise" not in info
    assert np.asarray(latents["w"]).shape == (2, 8, 10)


def test_the_camera_moves_a_library_latent_as_it_moves_the_seed(client, sg3_models):
    """A face kept in My latents (its w) comes back through Generate's camera as the seed does."""
    model = MODELS["sg3t"]
    _, entries = client.predict(api_name="/library_list")
    for e in entries:  # the same latent is kept once: an earlier test's entry of it would stay
        if e["model"] == model:
            client.predict(entry_id=e["entry_id"], api_name="/library_delete")
    client.predict(seeds="3", model=model, save_to_library=True, api_name="/generate")
    _, entries = client.predict(api_name="/library_list")
    entry = next(e for e in entries if e["model"] == model and e["seed"] == 3)
    latent, *_ = client.predict(entry_id=entry["entry_id"], api_name="/library_files")
    kept = dict(seeds="", model=model, latent_files=[handle_file(latent)])
    still, moved = zip_faces(client, **kept), zip_faces(client, **kept, **CAMERA)
    seeded = zip_faces(client, seeds="3", model=model, **CAMERA)
    assert np.abs(moved - still).mean() > 0.5 / 255
    assert np.abs(moved - seeded).mean() < 0.5 / 255
