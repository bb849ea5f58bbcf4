"""The bad-input corpus against the Fine-tune tab: broken images, hostile zips, names that
point at other models, numbers only the raw API can send. Each is a clear message and the
server keeps serving; nothing is written outside the upload and checkpoints folders."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from gradio_client import handle_file
from PIL import Image

from tests.api_helpers import call_raw
from tests.corpus import bad_images


def still_serves(client) -> None:
    assert len(client.predict(seeds="3", api_name="/generate")[0]) == 1


def finetune(client, images: list[str], **kwargs):
    args = {"name": "abuse-test", "steps": 1, "batch_size": 2, "kid": False, **kwargs}
    return client.predict(images=[handle_file(p) for p in images], **args, api_name="/finetune")


def png_bytes(size: int = 64, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((size, size), 40 + seed).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def good_images(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("good")
    paths = []
    for i in range(8):  # the least a run accepts
        (folder / f"{i}.png").write_bytes(png_bytes(seed=i))
        paths.append(str(folder / f"{i}.png"))
    return paths


def test_only_broken_images_is_a_clear_error(client, tmp_path):
    broken = [
        str(path)
        for path, _ in bad_images(tmp_path / "bad").values()
        if path.stat().st_size < 2**20
    ]
    with pytest.raises(Exception) as error:
        finetune(client, broken)
    message = str(error.value)
    assert "Something went wrong" not in message and "image" in message.lower()
    still_serves(client)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../escape", "invalid model name"),
        ("a/b", "invalid model name"),
        (".hidden", "invalid model name"),
        ("", "invalid model name"),
        ("dcgan-digiface", "new name"),
        ("efficientnet-lite0", "not fine-tuned here"),
    ],
)
def test_names_cannot_escape_or_overwrite_other_models(client, good_images, name, message):
    with pytest.raises(Exception, match=message):
        finetune(client, good_images, name=name)
    still_serves(client)


def test_a_zip_cannot_write_outside_its_folder(client, tmp_path):
    target = tmp_path / "escaped"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"../../../../../../..{target}/evil.png", png_bytes())
        archive.writestr("/etc/cron.d/evil.png", png_bytes(seed=1))
        for i in range(8):
            archive.writestr(f"faces/{i}.png", png_bytes(seed=i))
    path = tmp_path / "data.zip"
    path.write_bytes(buffer.getvalue())
    try:
        finetune(client, [str(path)])
    except Exception as e:  # refusing the whole zip is fine too, if it says why
        assert "Something went wrong" not in str(e)
    assert not target.exists()
    assert not Path("/etc/cron.d/evil.png").exists()
    still_serves(client)


def test_a_zip_bomb_is_refused(client, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.png", b"\0" * (60 * 2**20))  # 60 KB compressed, over 50 MB
    path = tmp_path / "bomb.zip"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(Exception) as error:
        finetune(client, [str(path)])
    assert "Something went wrong" not in str(error.value)
    still_serves(client)


def test_finetune_numbers_cannot_be_nan(app_url, client, good_images):
    body = (
        '{"data": [[], "dcgan-digiface", "abuse-test", 1, 2, NaN, 0.0002, 0.5, 0.999, 0.5, '
        "0.999, 0.2, [], true, 1, 0.995, 20, 20, 900, false, false]}"
    )
    event, detail = call_raw(app_url, "finetune", body)
    assert event == "error" and detail and "Something went wrong" not in detail, detail
    still_serves(client)


def test_another_session_cannot_overwrite_my_finetune(app_url, good_images):
    from gradio_client import Client

    mine, theirs = Client(app_url, verbose=False), Client(app_url, verbose=False)
    finetune(mine, good_images, name="shared-name")
    with pytest.raises(Exception, match="already exists"):
        finetune(theirs, good_images, name="shared-name")
