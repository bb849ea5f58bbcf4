"""Fine-tune data: safe zip extraction, caps, skipped files, preprocessing, preview."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import UserInputError
from gan.finetune import data


def _png(color=(200, 30, 30), size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _zip(path: Path, members: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def test_zip_extraction_is_flat_and_skips_unsafe_members(tmp_path):
    archive = _zip(
        tmp_path / "set.zip",
        {
            "a.png": _png(),
            "deep/dir/b.PNG": _png(),
            "../../evil.png": _png(),
            "/abs/evil2.png": _png(),
            "notes.txt": b"hello",
            "inner.zip": b"PK\x03\x04",
            "__MACOSX/._a.png": b"junk",
            ".hidden.png": _png(),
        },
        symlinks=("link.png",),
    )
    dest = tmp_path / "out"
    dest.mkdir()
    written, skipped = data.extract_zip(archive, dest)
    assert len(written) == 2
    assert all(p.parent == dest for _, p in written)  # nothing outside, no sub-folders
    assert [name for name, _ in written] == ["a.png", "deep/dir/b.PNG"]  # listed by name
    assert not (tmp_path / "evil.png").exists()
    reasons = "\n".join(skipped)
    assert "../../evil.png: unsafe path" in reasons
    assert "/abs/evil2.png: unsafe path" in reasons
    assert "notes.txt: not an image" in reasons
    assert "inner.zip: nested archive" in reasons
    assert "link.png: a link" in reasons
    assert "__MACOSX" not in reasons and ".hidden" not in reasons


def test_zip_bomb_is_refused_by_bytes_read(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {f"{i}.png": b"\0" * 3_000_000 for i in range(4)})
    dest = tmp_path / "out"
    dest.mkdir()
    limits = data.Limits(max_total_bytes=5_000_000, max_file_bytes=4_000_000)
    with pytest.raises(UserInputError, match="zip bomb"):
        data.extract_zip(archive, dest, limits)
    one_big = _zip(tmp_path / "big.zip", {"big.png": b"\0" * 5_000_000, "ok.png": _png()})
    written, skipped = data.extract_zip(one_big, dest, data.Limits(max_file_bytes=1_000_000))
    assert len(written) == 1 and "over the" in skipped[0]


def test_caps_on_member_and_image_counts(tmp_path):
    archive = _zip(tmp_path / "many.zip", {f"{i}.png": _png() for i in range(12)})
    with pytest.raises(UserInputError, match="entries"):
        data.extract_zip(archive, tmp_path, data.Limits(max_members=10))
    with pytest.raises(UserInputError, match="more than 5"):
        data.prepare([archive], 16, min_images=2, limits=data.Limits(max_images=5))


def test_not_a_zip_and_empty_upload(tmp_path):
    fake = tmp_path / "photos.zip"
    fake.write_bytes(b"not a zip at all")
    with pytest.raises(UserInputError, match="not a readable .zip"):
        data.prepare([fake], 16)
    with pytest.raises(UserInputError, match="upload training images"):
        data.prepare([], 16)
    with pytest.raises(UserInputError, match="upload training images"):
        data.prepare(None, 16)


def test_too_few_images_is_a_clear_error(tmp_path):
    one = tmp_path / "one.png"
    one.write_bytes(_png())
    with pytest.raises(UserInputError, match="at least 8 images; only 1 usable"):
        data.prepare([one], 16)


def test_prepare_skips_corrupt_files_and_crops(tmp_path):
    files = []
    for i in range(9):
        path = tmp_path / f"{i}.png"
        path.write_bytes(_png(color=(200, 30, 20 + i), size=(60 + 10 * i, 30)))  # no duplicates
        files.append(path)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "data.tar").write_bytes(b"x")
    ds = data.prepare(
        [*files, tmp_path / "broken.jpg", tmp_path / "empty.png", tmp_path / "data.tar"], 32
    )
    assert ds.images.shape == (9, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert len(ds.skipped) == 3
    assert "broken.jpg" in ds.warning() and "data.tar: only .zip" in ds.warning()
    assert (ds.images[:, 0] == 200).all()  # uniform colour survives crop and resize


def test_center_crop_keeps_the_middle():
    image = Image.new("RGB", (300, 100), (0, 0, 255))
    image.paste((255, 0, 0), (100, 0, 200, 100))  # a red centre square
    out = np.asarray(data.center_crop_resize(image, 16))
    assert out.shape == (16, 16, 3)
    assert (out[..., 0] > 250).all() and (out[..., 2] < 5).all()


def test_folder_zip_and_preview(images_dir, tmp_path):
    archive = tmp_path / "shared.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(images_dir.glob("*.jpg"))[:4]:
            zf.write(path, f"photos/{path.name}")
    ds = data.prepare([images_dir, archive], 64)
    assert len(ds) == 12  # the zip's 4 photos are duplicates of the folder's, removed
    assert sum("duplicate of" in s for s in ds.skipped) == 4
    assert any("SOURCES.md" in s for s in ds.skipped)
    grid = data.preview_grid(ds.images)
    assert grid.dtype == np.uint8 and grid.shape == (2 + 2 * 66, 2 + 8 * 66, 3)


def test_duplicates_are_removed_by_their_prepared_pixels(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(8):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    copy = tmp_path / "copy.png"
    copy.write_bytes(paths[0].read_bytes())
    bigger = tmp_path / "bigger.png"  # same picture at another size: different pixels
    Image.open(paths[1]).resize((64, 64)).save(bigger)
    dataset = data.prepare([*paths, copy, bigger], 16)
    assert len(dataset) == 9
    assert dataset.skipped == ["copy.png: duplicate of img0.png, removed"]
    assert len({bytes(x.numpy()) for x in dataset.images}) == 9


def test_a_zip_of_300000_entries_is_refused_before_any_entry_is_parsed(tmp_path, monkeypatch):
    """issue 19: the train lane spent 15.8 s on such a zip before refusing it (fine-tune,
    preview and the GAN lab all read uploads through `prepare`)."""
    from tests.core.test_safe_files import many_entry_zip

    huge = many_entry_zip(tmp_path / "huge.zip", 300_000)

    def parsed(*args, **kwargs):
        raise AssertionError("zipfile parsed the central directory")

    monkeypatch.setattr(zipfile, "ZipFile", parsed)
    with pytest.raises(UserInputError, match="huge.zip has 300,000 entries: the limit is 20,000"):
        data.prepare([huge], 16)


def test_bad_members_are_skipped_and_listed_by_their_names(tmp_path):
    inner = tmp_path / "inner.zip"
    _zip(inner, {"x.png": _png()})
    members = {f"good{i}.png": _png(color=(20 * i, 9, 9)) for i in range(8)}
    members |= {"x.png": inner.read_bytes(), "words.png": b"hello", "big/": b""}
    archive = _zip(tmp_path / "set.zip", members, symlinks=("link.png",))
    dataset = data.prepare([archive], 16)
    assert len(dataset) == 8
    listed = dataset.warning()
    for name in ("set.zip/x.png", "set.zip/words.png", "set.zip/link.png: a link"):
        assert name in listed, listed
