"""FaceStudio on the bundled default weights: varied faces, determinism, truncation,
interpolation end points, the generator cache."""

import contextlib
import io
import os
import threading
import time
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gan import DEFAULT_MODEL
from gan.generate.faces import FacesRequest
from gan.generate.service import OUTPUT_TTL_S, FaceStudio
from gan.loading import load_generator


@pytest.fixture(scope="module")
def studio():
    return FaceStudio(torch.device("cpu"))


def test_default_weights_make_varied_faces(studio):
    faces = studio.generate(DEFAULT_MODEL, seeds=[1, 2, 3, 4])
    assert faces.images.shape == (4, 64, 64, 3) and faces.images.dtype == np.uint8
    per_face = faces.images.reshape(4, -1).astype(float)
    assert per_face.std(axis=1).min() > 20  # not blank or flat
    distances = [np.abs(per_face[i] - per_face[j]).mean() for i in range(4) for j in range(i)]
    assert min(distances) > 10  # no mode collapse across these seeds


def test_default_weights_are_the_trained_ones(studio):
    """The bundled weights are the converted, trained ones, not a fresh initialisation."""
    trained = load_generator(DEFAULT_MODEL, torch.device("cpu"))
    assert trained.config.nz == 100 and trained.config.ngf == 64
    # BatchNorm running statistics were learned (a fresh model has mean 0, var 1).
    bn = trained.main[1]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))


def test_a_seed_gives_the_same_face_alone_or_in_a_batch(studio):
    alone = studio.generate(DEFAULT_MODEL, seeds=[42]).images[0]
    in_batch = studio.generate(DEFAULT_MODEL, seeds=[7, 42, 9]).images[1]
    assert np.abs(alone.astype(int) - in_batch.astype(int)).max() <= 1


def test_truncation_zero_gives_the_mean_face_for_every_seed(studio):
    faces = studio.generate(DEFAULT_MODEL, seeds=[1, 2], truncation_psi=0.0)
    assert np.array_equal(faces.images[0], faces.images[1])


def test_interpolation_frames_start_and_end_at_the_keyframes(studio):
    frames = studio.interpolate(DEFAULT_MODEL, [3, 4], frames=5, mode="slerp")
    ends = studio.generate(DEFAULT_MODEL, seeds=[3, 4]).images
    assert frames.shape == (5, 64, 64, 3)
    assert np.abs(frames[0].astype(int) - ends[0]).max() <= 1
    assert np.abs(frames[-1].astype(int) - ends[1]).max() <= 1


def test_generators_are_cached_and_reloaded_when_weights_change(checkpoints, studio):
    from core import store
    from tests.conftest import tiny_generator

    g = tiny_generator(seed=1)
    store.save_pretrained(checkpoints / "tiny", g.config.to_dict(), g.state_dict(), "")
    first = studio.generator("tiny")
    assert studio.generator("tiny") is first
    g2 = tiny_generator(seed=2)
    store.save_pretrained(checkpoints / "tiny", g2.config.to_dict(), g2.state_dict(), "")
    assert studio.generator("tiny") is not first


class RecordingGate:
    """Stands in for `core.lanes.PriorityGate`: records the cheap sections."""

    def __init__(self) -> None:
        self.entered = 0

    def cheap(self):
        self.entered += 1
        return contextlib.nullcontext()


def test_forward_passes_run_as_cheap_work_and_files_are_native(tmp_path):
    gate = RecordingGate()
    studio = FaceStudio(torch.device("cpu"), tmp_path, gate=gate)
    faces, pngs = studio.generate_request(DEFAULT_MODEL, FacesRequest("5, 7", 0.8))
    assert gate.entered == 1
    assert [p.name for p in pngs] == ["seed0005.png", "seed0007.png"]
    assert pngs[0].parent.parent == tmp_path and len(pngs[0].parent.name) == 64
    assert np.array_equal(np.asarray(Image.open(pngs[1]).convert("RGB")), faces.images[1])
    studio.interpolate(DEFAULT_MODEL, [1, 2], frames=3)
    assert gate.entered == 2


def test_the_zip_holds_the_same_faces_and_latents(tmp_path):
    studio = FaceStudio(torch.device("cpu"), tmp_path)
    faces = studio.generate(DEFAULT_MODEL, seeds=[3])
    with zipfile.ZipFile(studio.zip_request(DEFAULT_MODEL, FacesRequest("3"))) as archive:
        assert archive.namelist() == ["seed0003.png", "grid.png", "latents.npy", "latents.json"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        face = np.asarray(Image.open(io.BytesIO(archive.read("seed0003.png"))).convert("RGB"))
        z = np.load(io.BytesIO(archive.read("latents.npy")))
    assert np.array_equal(face, faces.images[0])
    np.testing.assert_array_equal(z, faces.z.numpy())


def test_old_output_folders_are_pruned_only_when_empty_until_twice_the_ttl(tmp_path):
    studio = FaceStudio(torch.device("cpu"), tmp_path)
    old = time.time() - 1.5 * OUTPUT_TTL_S
    empty, full, ancient = tmp_path / "empty", tmp_path / "full", tmp_path / "ancient"
    for folder in (empty, full, ancient):
        folder.mkdir()
    (full / "a.png").write_bytes(b"x")
    (ancient / "a.png").write_bytes(b"x")
    for folder, age in ((empty, old), (full, old), (ancient, time.time() - 3 * OUTPUT_TTL_S)):
        os.utime(folder, (age, age))
    studio.output_dir()
    studio._pruner.join(timeout=10)  # it prunes in the background
    assert not empty.exists() and full.exists() and not ancient.exists()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_output_folders_are_pruned_at_most_once_a_minute_in_the_background(tmp_path, monkeypatch):
    clock, pruned = FakeClock(), []
    studio = FaceStudio(torch.device("cpu"), tmp_path, clock=clock)
    monkeypatch.setattr(studio, "_prune_outputs", lambda: pruned.append(threading.get_ident()))
    for step in (0, 10, 59.9, 0.2, 30, 30):  # 0, 10, 69.9, 70.1, 100.1, 130.1 s after the first
        clock.now += step
        studio.output_dir()
        studio._pruner.join(timeout=10)
    assert len(pruned) == 3  # at 0, 70.1 and 130.1 s
    assert threading.get_ident() not in pruned  # never on the request's own thread
