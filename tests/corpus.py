"""A corpus of broken inputs, built on the fly (no binary files in the repository).

Each maker writes files into a folder and returns `{case: (path, message_regex)}`: the file,
and the words the clear error must contain. `bad_images` serves every tab that takes a picture
(style transfer, fine-tuning), `bad_latent_files` the Generate tab's latent upload.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

NZ = 100  # the bundled DCGAN's latent size

# A file whose unpickling would leave a mark: proof that nothing is ever unpickled.
PICKLE_MARK = "gan-studio-pickle-ran"


class _Payload:
    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self):
        return (Path.touch, (self.mark,))


def _png(width: int, height: int, color=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header claims `width` x `height` (a decompression bomb's header)."""
    data = bytearray(_png(1, 1))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def _jpeg(width: int = 64, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(
        buffer, format="JPEG", quality=90
    )
    return buffer.getvalue()


def bad_images(folder: Path) -> dict[str, tuple[Path, str]]:
    """Image uploads broken the ways people and attackers break them."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, tuple[bytes | None, str, str]] = {
        "empty": (b"", "empty.png", "empty file"),
        "text-named-png": (b"hello, I am not a picture\n", "text.png", "not an image"),
        "html-named-jpg": (b"<html><script>alert(1)</script></html>", "x.jpg", "not an image"),
        "svg": (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "x.png",
            "not an image",
        ),
        "pickle-named-png": (pickle.dumps({"a": 1}), "pickle.png", "not an image"),
        "truncated-jpeg": (_jpeg()[:300], "cut.jpg", "corrupt or truncated|not an image"),
        "bomb-header": (_png_claiming(100_000, 100_000), "bomb.png", "pixel limit|too large"),
        "tiny": (_png(8, 8), "tiny.png", "at least 32"),
        "one-pixel-tall": (_png(4000, 1), "strip.png", "at least 32"),
        "oversize-file": (None, "huge.png", "limit is 50 MB"),
    }
    out = {}
    for case, (data, name, message) in cases.items():
        path = folder / f"{case}-{name}"
        if data is None:  # sparse: 51 MB on paper, nothing on disk
            with open(path, "wb") as f:
                f.write(_png(64, 64))
                f.truncate(51 * 2**20)
        else:
            path.write_bytes(data)
        out[case] = (path, message)
    return out


def odd_but_valid_images(folder: Path) -> dict[str, Path]:
    """Images that look unusual but must load: modes, transparency, depth, orientation."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    images = {
        "cmyk.jpg": rgb.convert("CMYK"),
        "rgba.png": rgb.convert("RGBA"),
        "palette.gif": rgb.convert("P"),
        "grey16.png": Image.fromarray((rng.random((48, 64)) * 65535).astype(np.uint16)),
        "greyscale.webp": rgb.convert("L"),
        "bilevel.bmp": rgb.convert("1"),
    }
    out = {}
    for name, image in images.items():
        image.save(folder / name)
        out[name] = folder / name
    exif = rgb.getexif()
    exif[0x0112] = 6  # rotated 90°: a phone photo
    rgb.save(folder / "rotated.jpg", exif=exif)
    out["rotated.jpg"] = folder / "rotated.jpg"
    return out


def _npy_header_only(path: Path, shape: tuple[int, ...]) -> None:
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": shape}
        )
        f.write(b"\0" * 400)


def bad_latent_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Latent uploads (.npy / .json) broken every way we could think of."""
    folder.mkdir(parents=True, exist_ok=True)
    mark = folder / PICKLE_MARK
    out: dict[str, tuple[Path, str]] = {}

    def npy(case: str, array: np.ndarray, message: str) -> None:
        path = folder / f"{case}.npy"
        np.save(path, array, allow_pickle=True)
        out[case] = (path, message)

    def raw(case: str, name: str, data: bytes, message: str) -> None:
        path = folder / f"{case}-{name}"
        path.write_bytes(data)
        out[case] = (path, message)

    npy("object-array", np.array([_Payload(mark)], dtype=object), "cannot read|real numbers")
    raw("pickle-as-npy", "z.npy", pickle.dumps(_Payload(mark)), "cannot read")
    buffer = io.BytesIO()
    torch.save({"z": torch.zeros(NZ)}, buffer)
    raw("torch-save-as-npy", "z.npy", buffer.getvalue(), "cannot read")
    npy("complex", np.zeros(NZ, dtype=np.complex64), "real numbers")
    npy("strings", np.array(["a"] * NZ), "real numbers")
    npy("nan", np.full(NZ, np.nan, dtype=np.float32), "NaN or infinite")
    npy("inf", np.full(NZ, np.inf, dtype=np.float32), "NaN or infinite")
    npy("huge-values", np.full(NZ, 1e30, dtype=np.float32), "within")
    npy("wrong-length", np.zeros(3, dtype=np.float32), "shape")
    npy("three-d", np.zeros((2, NZ, 5), dtype=np.float32), "shape")
    npy("no-vectors", np.zeros((0, NZ), dtype=np.float32), "between 1 and")
    npy("too-many-vectors", np.zeros((65, NZ), dtype=np.float32), "between 1 and")
    raw("truncated-npy", "z.npy", np.lib.format.magic(1, 0) + b"\x10\x00{'descr'", "cannot read")
    raw("empty-npy", "z.npy", b"", "cannot read")
    _npy_header_only(folder / "lying-header.npy", (10**11,))
    out["lying-header"] = (folder / "lying-header.npy", "cannot read")
    _npy_header_only(folder / "short-data.npy", (1, NZ * 1000))
    out["short-data"] = (folder / "short-data.npy", "cannot read")
    big = folder / "too-big.npy"
    np.save(big, np.zeros((2, NZ), dtype=np.float32))
    with open(big, "r+b") as f:
        f.truncate(5 * 2**20)
    out["too-big"] = (big, "too large")
    raw("bad-json", "z.json", b"[1, 2,", "not valid JSON")
    raw("deep-json", "z.json", b"[" * 200_000 + b"]" * 200_000, "nested too deeply")
    raw("json-strings", "z.json", b'["a", "b"]', "list of numbers|shape")
    raw("json-ragged", "z.json", b"[[1, 2], [3]]", "list of numbers|shape")
    raw("json-object", "z.json", b'{"not_z": [1, 2]}', "list of numbers|shape")
    raw("json-null", "z.json", b"null", "list of numbers|shape")
    raw("json-binary", "z.json", os.urandom(256), "not valid JSON")
    return out
