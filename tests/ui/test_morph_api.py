"""Morph two photos through `gradio_client`, offline: two faces of the bundled DCGAN (seeds 7
and 11), aligned and projected, walked A -> B -> A, with D's realness along the walk; both
latents in My latents, walked by `/interpolate`, and a StyleGAN2 projection as a style-mix row."""

from __future__ import annotations

from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from gradio_client import handle_file
from PIL import Image
from safetensors.torch import save_file

from core import media, store
from gan.generate.service import FaceStudio
from gan.judge import judge as J
from gan.models.dcgan import Discriminator, DiscriminatorConfig, init_weights
from tests.ui.test_edit_project_judge_api import face_png, models  # noqa: F401 (a fixture)

MODEL = "dcgan-digiface-judged"  # the bundled G with a small random D beside it


@pytest.fixture(scope="module")
def judged_model(app_services) -> str:
    """The bundled DCGAN linked into the session's checkpoints, with a D (ndf 8, 64 px)."""
    folder = store.checkpoints_dir() / MODEL
    if not folder.exists():
        bundled = store.resolve("dcgan-digiface")
        folder.mkdir()
        for name in ("config.json", "model.safetensors", "README.md"):
            (folder / name).symlink_to(bundled / name)
        torch.manual_seed(3)
        D = Discriminator(DiscriminatorConfig(ndf=8, image_size=64)).apply(init_weights)
        save_file(dict(D.state_dict()), str(folder / J.DISCRIMINATOR_NAME))
    return MODEL


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[str]:
    """Faces 7 and 11 of the bundled model, upscaled as photos are."""
    folder = tmp_path_factory.mktemp("morph-photos")
    faces = FaceStudio("cpu", folder).generate("dcgan-digiface", seeds=[7, 11]).images
    return [
        str(media.save_png(np.asarray(media.upscale(f, 256)), folder / f"{i}.png"))
        for i, f in enumerate(faces)
    ]


def frames_of(video: str) -> np.ndarray:
    reader = imageio_ffmpeg.read_frames(video)
    size = next(reader)["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(size[1], size[0], 3) for f in reader]
    return np.stack(frames).astype(int)


def test_two_faces_morph_in_a_loop_with_d_along_the_way(client, judged_model, photos):
    a, b = (handle_file(p) for p in photos)
    _, info, video, plot, files, pairs = client.predict(
        photo_a=a, photo_b=b, model=judged_model, morph_steps=2, frames=9, align=True,
        api_name="/morph",
    )  # fmt: skip
    frames = frames_of(video["video"] if isinstance(video, dict) else video)
    assert len(frames) == 9
    assert np.abs(frames[0] - frames[-1]).mean() < 1.0  # the walk ends where it starts
    assert np.abs(frames[0] - frames[4]).mean() > 1.0  # and passes through B
    points = plot["data"]
    assert len(points) == 9 and [p[0] for p in points] == list(range(9))
    names = {Path(f).name for f in files}
    assert {"photo_a.npy", "photo_a.json", "photo_b.npy", "photo_b.json", "morph.mp4"} <= names
    pair = Image.open(pairs)  # target | projection, A above B
    assert pair.width == pair.height and "9 frames" in info
    _, entries = client.predict(api_name="/library_list")
    kept = [e for e in entries if e["model"] == judged_model and e["origin"] == "projection"]
    assert len(kept) >= 2  # both projections are in My latents
    latent_files = sorted(f for f in files if f.endswith(".npy"))  # photo_a, photo_b
    walk_between_projections(client, judged_model, latent_files)


def walk_between_projections(client, model: str, latent_files: list[str]) -> None:
    """`/interpolate` with `latent_files=[A, B]` starts on A's projected face and ends on B's."""
    keys = [handle_file(f) for f in latent_files]
    gallery, _, _ = client.predict(latent_files=keys, model=model, api_name="/generate")
    faces = [pixels(item["image"]) for item in gallery]  # each projection's own face
    strip = pixels(
        client.predict(
            latent_files=keys, frames=5, mode="lerp", model=model, api_name="/interpolate"
        )[0]
    )
    size = strip.shape[0] - 4  # 2 px padding around and between the frames
    tiles = [strip[2 : 2 + size, 2 + i * (size + 2) : 2 + i * (size + 2) + size] for i in range(5)]
    assert np.array_equal(tiles[0], faces[0]) and np.array_equal(tiles[-1], faces[1])
    assert not np.array_equal(tiles[2], faces[0])


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_a_projected_stylegan2_latent_is_a_style_mix_row(client, models, tmp_path):  # noqa: F811
    """A face the tiny StyleGAN2 made, projected in W+, mixes as a row with seed columns."""
    photo = face_png(client, tmp_path, "tiny-sg2", 4)
    *_, files, _latent = client.predict(
        photo=handle_file(str(photo)), model="tiny-sg2", steps=2, w_plus=True, api_name="/project"
    )
    row = handle_file(next(f for f in files if f.endswith(".npy")))
    common = {"model": "tiny-sg2", "column_seeds": "1-2", "preset": "coarse"}
    grid, gallery, _, info = client.predict(**common, row_latent_files=[row], api_name="/style_mix")
    seeded = client.predict(**common, row_seeds="4", api_name="/style_mix")[0]
    assert len(gallery) >= 2 and "tiny-sg2" in info
    assert not np.array_equal(pixels(grid), pixels(seeded))  # the row is the projection


def test_a_photo_without_a_face_is_refused_clearly(client, judged_model, photos, tmp_path):
    flat = media.save_png(np.full((128, 128, 3), 120, np.uint8), tmp_path / "flat.png")
    with pytest.raises(Exception, match="no face was found") as caught:
        client.predict(
            photo_a=handle_file(photos[0]), photo_b=handle_file(str(flat)),
            model=judged_model, morph_steps=2, frames=3, align=True, api_name="/morph",
        )  # fmt: skip
    assert "Traceback" not in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_project_aligns_the_face_when_asked(client, photos):
    """`/project` with `align=True` projects the FFHQ crop (not the centred square), and a face
    number the photo does not have is a clear error; old calls (no `align`) crop as before."""
    common = {"photo": handle_file(photos[0]), "model": "dcgan-digiface", "steps": 1}
    plain = client.predict(**common, api_name="/project")[3]
    aligned = client.predict(**common, align=True, face=1, api_name="/project")[3]
    left = [np.asarray(Image.open(p).convert("RGB"), int) for p in (plain, aligned)]
    half = left[0].shape[1] // 2  # target | projection: the target is the left half
    assert np.abs(left[0][:, :half] - left[1][:, :half]).mean() > 5.0
    with pytest.raises(Exception, match="no face number 2: the photo has 1"):
        client.predict(**common, align=True, face=2, api_name="/project")
