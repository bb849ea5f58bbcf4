"""The Fine-tune tab through `gradio_client`: the issue's acceptance run, short, offline, on CPU."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from core import store


def painting_crops(images_dir: Path, folder: Path, n: int = 32) -> list[Path]:
    """`n` photos of a domain the face model never saw: crops of the shared paintings/photos."""
    rng = np.random.default_rng(0)
    sources = [Image.open(p).convert("RGB") for p in sorted(images_dir.glob("*.jpg"))]
    paths = []
    for i in range(n):
        image = sources[i % len(sources)]
        side = int(min(image.size) * rng.uniform(0.4, 0.8))
        x, y = rng.integers(0, image.width - side + 1), rng.integers(0, image.height - side + 1)
        path = folder / f"crop{i:02d}.jpg"
        image.crop((x, y, x + side, y + side)).resize((96, 96)).save(path, quality=90)
        paths.append(path)
    return paths


def _faces(client, model: str) -> list[np.ndarray]:
    gallery = client.predict(seeds="1-4", model=model, api_name="/generate")[0]
    return [np.asarray(Image.open(item["image"]).convert("RGB")) for item in gallery]


def test_finetune_32_images_lowers_kid_and_changes_faces(client, images_dir, tmp_path):
    files = painting_crops(images_dir, tmp_path)
    status, preview, samples, losses, result = client.predict(
        images=[handle_file(str(p)) for p in files],
        model="dcgan-digiface",
        name="api-finetune",
        steps=40,  # 20 D warm-up steps, then 20 of both
        batch_size=16,
        sample_every=20,
        api_name="/finetune",
    )
    assert result["model"] == "api-finetune" and result["steps"] == 40
    assert result["images"] == 32 and result["ended"] == "finished"
    assert result["kid_after"] < result["kid_before"], result
    assert "Saved **api-finetune**" in status
    assert Image.open(samples).size[0] >= 256 and Image.open(preview).size[0] > 64
    assert {row[1] for row in losses["data"]} == {"D", "G"}
    folder = store.checkpoints_dir() / "api-finetune"
    assert (folder / "model.safetensors").is_file() and "dcgan-digiface" in (
        folder / "README.md"
    ).read_text()
    base, tuned = _faces(client, "dcgan-digiface"), _faces(client, "api-finetune")
    assert all(a.shape == b.shape for a, b in zip(base, tuned, strict=True))
    assert all(np.abs(a.astype(int) - b).mean() > 5 for a, b in zip(base, tuned, strict=True))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"images": []}, "upload training images"),
        ({"name": "../escape"}, "invalid model name"),
        ({"lr_g": 0.0}, "learning rate"),
        ({"batch_size": 1}, "minimum value 2|at least 2"),
        ({"diffaugment": ["color", "blur"]}, "not in the list of choices"),
        ({"max_seconds": -5.0}, "minimum value"),
    ],
)
def test_finetune_bad_input_is_a_clear_error(client, images_dir, tmp_path, kwargs, message):
    files = [handle_file(str(p)) for p in painting_crops(images_dir, tmp_path, 8)]
    args = {"images": files, "name": "bad-run", "steps": 1, "kid": False} | kwargs
    with pytest.raises(Exception, match=message):
        client.predict(**args, api_name="/finetune")


def test_finetune_odd_uploads_are_clear_errors(client, images_dir, tmp_path):
    one = painting_crops(images_dir, tmp_path, 1)
    with pytest.raises(Exception, match="at least 8 images; only 1"):
        client.predict(images=[handle_file(str(one[0]))], name="x", api_name="/finetune")
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(nested, "w") as zf:
        zf.writestr("inner.zip", b"PK\x05\x06" + b"\0" * 18)
        zf.writestr("readme.txt", "hello")
    with pytest.raises(Exception, match="no usable images"):
        client.predict(images=[handle_file(str(nested))], name="x", api_name="/finetune")
    # the app keeps serving
    assert len(client.predict(seeds="1", api_name="/generate")[0]) == 1
