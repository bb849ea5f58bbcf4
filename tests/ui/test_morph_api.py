"""Morph two photos through `gradio_client`, offline: two faces of the bundled DCGAN (seeds 7
and 11), aligned and projected, walked A -> B -> A, with D's realness along the walk."""

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
        photo_a=a, photo_b=b, model=judged_model, morph_steps=4, frames=9, align=True,
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
