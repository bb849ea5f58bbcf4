"""Latent files in keyframes, rows, columns: the policy checks their paths like every upload,
never decodes them as images, and counts them as keyframes against the frames quota."""

import shutil
from types import SimpleNamespace

import pytest

from core.errors import UserInputError
from core.quotas import Quotas
from core.safe_files import upload_folder
from ui import policy

NAMES = ["latent_files", "row_latent_files", "column_latent_files"]


@pytest.mark.parametrize("name", NAMES)
def test_a_latent_file_outside_the_upload_folder_is_refused(tmp_path, name):
    outside = tmp_path / "w.npy"
    outside.write_bytes(b"x")
    with pytest.raises(UserInputError, match="only files uploaded to this app"):
        policy._files({name: [str(outside)]})


@pytest.mark.parametrize("name", NAMES)
def test_uploaded_latent_files_pass_and_are_not_images(name):
    folder = upload_folder() / "policy-latents-test"
    folder.mkdir(parents=True, exist_ok=True)
    inside = folder / "w.npy"
    inside.write_bytes(b"x")
    values = {name: [str(inside)]}
    try:
        assert policy._files(values) == []  # checked, but no image to decode
        assert values[name] == [str(inside.resolve())]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_latent_files_count_as_keyframes_against_the_frames_quota():
    guard = SimpleNamespace(quotas=Quotas(max_total_frames=100))
    files = ["a.npy", "b.npy", "c.npy"]
    policy._frames(guard, {"seeds": "1, 2", "frames": 50, "latent_files": files})  # 2 x 50
    with pytest.raises(UserInputError, match="over this server's limit"):
        policy._frames(guard, {"seeds": "1, 2", "frames": 51, "latent_files": files})
    with pytest.raises(UserInputError, match="over this server's limit"):
        policy._frames(guard, {"seeds": "1, #1, #2, #3", "frames": 40, "latent_files": files})
