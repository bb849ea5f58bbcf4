"""Latent files as keyframes (/interpolate), as style-mix rows and columns (/style_mix), and
the looping videos (/interpolate_video) through `gradio_client`, on tiny models."""

import shutil
import zipfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from core import store
from tests.gan.sg2_models import save_tiny

SG2 = "sg2-keyframes-tiny"


@pytest.fixture(scope="module")
def sg2_model(app_services):
    folder = store.checkpoints_dir()
    save_tiny(folder, SG2, seed=3)
    yield SG2
    shutil.rmtree(folder / SG2, ignore_errors=True)


def _latent(client, tmp_path: Path, seed: int, name: str, model: str = "dcgan-digiface") -> str:
    """The `name` file (`latents.npy` or `w.npy`) of /faces_zip for one seed, renamed."""
    archive = client.predict(seeds=str(seed), model=model, api_name="/faces_zip")
    with zipfile.ZipFile(archive) as z:
        path = tmp_path / f"{model}-{seed}-{name}"
        path.write_bytes(z.read(name))
    return str(path)


def _face(client, latent: str, model: str) -> np.ndarray:
    gallery, _, _ = client.predict(
        latent_file=handle_file(latent), model=model, api_name="/generate"
    )
    return np.asarray(Image.open(gallery[0]["image"]).convert("RGB"))


def _strip_frames(strip: str, size: int) -> list[np.ndarray]:
    """The frames of a one-row strip PNG (2 px white padding)."""
    image = np.asarray(Image.open(strip).convert("RGB"))
    count = (image.shape[1] - 2) // (size + 2)
    return [
        image[2 : 2 + size, 2 + i * (size + 2) : 2 + i * (size + 2) + size] for i in range(count)
    ]


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).max() <= 2


def test_interpolate_latent_files_start_and_end_on_their_faces(client, tmp_path):
    a, b = (_latent(client, tmp_path, s, "latents.npy") for s in (7, 11))
    strip, _gif, _mp4, _files, info = client.predict(
        seeds="1, 2",
        frames=5,
        mode="slerp",
        model="dcgan-digiface",
        latent_files=[handle_file(a), handle_file(b)],
        api_name="/interpolate",
    )
    frames = _strip_frames(strip, 64)
    assert len(frames) == 5 and "2 keyframes" in info
    assert _close(frames[0], _face(client, a, "dcgan-digiface"))
    assert _close(frames[-1], _face(client, b, "dcgan-digiface"))
    # Seeds and files mixed, in the order the text gives: seed 7, file 2, seed 3.
    mixed, *_ = client.predict(
        seeds="7, #2, 3",
        frames=2,
        model="dcgan-digiface",
        latent_files=[handle_file(a), handle_file(b)],
        api_name="/interpolate",
    )
    seed7, seeded_b, _seed3 = _strip_frames(mixed, 64)
    assert _close(seed7, _face(client, a, "dcgan-digiface"))  # file A is seed 7's z
    assert _close(seeded_b, _face(client, b, "dcgan-digiface"))


def test_interpolate_w_keyframes_walk_in_w(client, tmp_path, sg2_model):
    a, b = (_latent(client, tmp_path, s, "w.npy", sg2_model) for s in (7, 11))
    strip, _gif, _mp4, _files, info = client.predict(
        frames=4,
        mode="cubic",
        model=sg2_model,
        latent_files=[handle_file(a), handle_file(b)],
        api_name="/interpolate",
    )
    frames = _strip_frames(strip, 32)
    assert len(frames) == 4 and "lerp in W" in info
    assert _close(frames[0], _face(client, a, sg2_model))
    assert _close(frames[-1], _face(client, b, sg2_model))


def test_a_latent_of_the_wrong_model_gets_a_clear_message(client, tmp_path, sg2_model):
    w = _latent(client, tmp_path, 7, "w.npy", sg2_model)
    with pytest.raises(Exception, match="this is a w latent") as refused:
        client.predict(
            model="dcgan-digiface", latent_files=[handle_file(w)], api_name="/interpolate"
        )
    assert "/tmp" not in str(refused.value) and "Traceback" not in str(refused.value)
    z = _latent(client, tmp_path, 7, "latents.npy")  # a DCGAN's z (100 numbers) for a z_dim 16
    with pytest.raises(Exception, match=r"shape \(16,\)"):
        client.predict(model=sg2_model, latent_files=[handle_file(z)] * 2, api_name="/interpolate")


def test_style_mix_takes_a_w_latent_as_a_row(client, tmp_path, sg2_model):
    w7 = _latent(client, tmp_path, 7, "w.npy", sg2_model)
    by_seed = client.predict(
        row_seeds="7", column_seeds="3, 4", model=sg2_model, api_name="/style_mix"
    )[1]
    by_file = client.predict(
        row_seeds="1-3",  # not used: the file replaces the row seeds
        column_seeds="3, 4",
        model=sg2_model,
        row_latent_files=[handle_file(w7)],
        api_name="/style_mix",
    )[1]
    assert len(by_file) == len(by_seed) == 1 + 2 + 2
    assert by_file[0]["caption"] == f"row {Path(w7).name}"
    for seeded, filed in zip(by_seed, by_file, strict=True):
        a, b = (np.asarray(Image.open(x["image"]).convert("RGB")) for x in (seeded, filed))
        assert _close(a, b)
    columns = client.predict(
        row_seeds="7",
        column_seeds="1",
        model=sg2_model,
        column_latent_files=[handle_file(w7)] * 2,
        api_name="/style_mix",
    )[1]
    assert len(columns) == 1 + 2 + 2


def test_grid_video_has_the_asked_rows_and_columns(client, sg2_model):
    video, info = client.predict(
        seeds="1-8",
        model=sg2_model,
        fps=10,
        frames_per_transition=3,
        crf=30,
        rows=2,
        columns=2,
        api_name="/interpolate_video",
    )
    path = video["video"] if isinstance(video, dict) else video
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    assert meta["size"] == (2 * 32, 2 * 32)  # 2 x 2 tiles of 32 px, no padding
    assert sum(1 for _ in reader) == 2 * 3  # two keyframes per tile, 3 frames per transition
    assert "6 frames" in info
    with pytest.raises(Exception, match="multiple of 4 keyframes"):
        client.predict(
            seeds="1-6", model=sg2_model, rows=2, columns=2, api_name="/interpolate_video"
        )


def test_compare_models_shows_the_same_seeds_through_two_models(client, tmp_path, sg2_model):
    (before, after), info = client.predict(
        seeds="1, 2", model="dcgan-digiface", other_model=sg2_model, api_name="/compare_models"
    )
    left, right = (Image.open(p) for p in (before, after))
    assert left.size == right.size == (2 * 66 + 2, 66 + 2)  # 2 faces, 32 px scaled up to 64
    generated, _, _ = client.predict(seeds="1, 2", model="dcgan-digiface", api_name="/generate")
    first = np.asarray(Image.open(generated[0]["image"]).convert("RGB"))
    assert np.array_equal(np.asarray(left.convert("RGB"))[2:66, 2:66], first)
    assert f"**{sg2_model}** (32 px)" in info
    z = _latent(client, tmp_path, 7, "latents.npy")  # 100 numbers: the DCGAN's z only
    with pytest.raises(Exception, match="latent spaces differ"):
        client.predict(
            model="dcgan-digiface",
            other_model=sg2_model,
            latent_file=handle_file(z),
            api_name="/compare_models",
        )


def _video_frames(video) -> tuple[tuple[int, int], list[np.ndarray]]:
    path = video["video"] if isinstance(video, dict) else video
    reader = imageio_ffmpeg.read_frames(str(path))
    w, h = next(reader)["size"]
    return (w, h), [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]


def test_style_mix_sweep_starts_on_the_first_column_mix(client, sg2_model):
    video, info = client.predict(
        row_seeds="7", column_seeds="3, 4", model=sg2_model, api_name="/style_mix_video"
    )
    size, frames = _video_frames(video)
    assert size == (32, 32) and len(frames) == 2 * 24  # one second per column at 24 fps
    mixed = client.predict(row_seeds="7", column_seeds="3", model=sg2_model, api_name="/style_mix")[
        1
    ][-1]
    first = np.asarray(Image.open(mixed["image"]).convert("RGB")).astype(int)
    assert np.abs(frames[0].astype(int) - first).mean() < 8  # H.264 at crf 18
    assert "48 frames" in info


def test_edit_sweep_loops_through_the_start_face(client):
    video, info = client.predict(
        model="dcgan-digiface", seed=3, sweep_direction=1, sweep_strength=2, api_name="/edit_video"
    )
    size, frames = _video_frames(video)
    assert size == (64, 64) and len(frames) == 48 and "48 frames" in info
    # -2σ at frame 0, the start face at frames 12 and 36, +2σ at frame 24.
    start = _face_of_seed(client, 3)
    assert np.abs(frames[12].astype(int) - start).mean() < 8
    assert np.abs(frames[0].astype(int) - frames[24].astype(int)).mean() > 2


def _face_of_seed(client, seed: int) -> np.ndarray:
    gallery, _, _ = client.predict(seeds=str(seed), model="dcgan-digiface", api_name="/generate")
    return np.asarray(Image.open(gallery[0]["image"]).convert("RGB")).astype(int)
