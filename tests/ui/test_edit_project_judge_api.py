"""Edit, Project and Judge through `gradio_client`: tiny models in a private checkpoints folder,
offline, plus the bundled face model for the projection acceptance check."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import handle_file
from PIL import Image
from safetensors.torch import save_file

from core import store
from gan.judge import judge as J
from gan.models.dcgan import Discriminator, DiscriminatorConfig, init_weights
from style import lpips as L
from tests.conftest import ROOT, tiny_generator
from tests.gan.sg2_tiny import tiny_stylegan2

BUNDLED = ("dcgan-digiface", "efficientnet-lite0", "lpips-vgg16-lin")


@pytest.fixture
def models(checkpoints: Path) -> Path:
    """The bundled models linked in, a tiny DCGAN (G only), the same with a D, a tiny StyleGAN2."""
    for name in BUNDLED:
        (checkpoints / name).symlink_to(ROOT / "checkpoints" / name)
    G = tiny_generator(1)
    store.save_pretrained(checkpoints / "tiny-dcgan", G.config.to_dict(), G.state_dict(), "card")
    store.save_pretrained(checkpoints / "tiny-judged", G.config.to_dict(), G.state_dict(), "card")
    save_file(dict(tiny_d().state_dict()), str(checkpoints / "tiny-judged" / J.DISCRIMINATOR_NAME))
    S = tiny_stylegan2(2)
    store.save_pretrained(checkpoints / "tiny-sg2", S.config.to_dict(), S.state_dict(), "card")
    return checkpoints


def tiny_d() -> Discriminator:
    torch.manual_seed(5)
    D = Discriminator(DiscriminatorConfig(ndf=4, image_size=16))
    D.apply(init_weights)
    return D.eval()


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def edit(client, **kw):
    return client.predict(**({"model": "tiny-dcgan", "seed": 3} | kw), api_name="/edit")


# --- Edit -------------------------------------------------------------------------------------


def test_zero_move_is_the_seed_face_and_a_move_changes_it(client, models):
    still, _, _, _, _ = edit(client)
    moved, strip, files, latent, info = edit(client, direction_0=2.0)
    face = client.predict(seeds="3", model="tiny-dcgan", api_name="/generate")[0][0]["image"]
    assert np.array_equal(pixels(still), pixels(face))
    assert not np.array_equal(pixels(moved), pixels(still))
    assert "+2σ on direction #0" in info and json.loads(latent)["z"]
    rows, cols = (Image.open(strip).height - 2) // 18, (Image.open(strip).width - 2) // 18
    assert (rows, cols) == (5, 7)  # 5 directions x 7 steps of 16 px with 2 px padding
    assert {Path(f).name for f in files} >= {"edited.npy", "edited.json", "strips.png"}


def test_exported_latent_reproduces_the_edit_in_generate_and_edit(client, models):
    moved, _, files, latent, _ = edit(client, direction_1=-1.5, direction_3=0.7)
    by_name = {Path(f).name: f for f in files}
    for name in ("edited.npy", "edited.json"):
        again = client.predict(
            seeds="",
            model="tiny-dcgan",
            latent_file=handle_file(by_name[name]),
            api_name="/generate",
        )[0][0]["image"]
        assert np.array_equal(pixels(again), pixels(moved)), name
    round_trip = edit(client, latent_text=latent)[0]  # sliders at 0: the same latent
    assert np.array_equal(pixels(round_trip), pixels(moved))


def test_stylegan2_edit_on_a_layer_preset_round_trips_w(client, models):
    args = {"model": "tiny-sg2", "layers": "coarse"}
    still = edit(client, **args)[0]
    moved, _, files, latent, info = edit(client, **args, direction_0=3.0)
    assert not np.array_equal(pixels(moved), pixels(still))
    assert "w-space" in info and json.loads(latent)["space"] == "w"
    npy = next(f for f in files if f.endswith(".npy"))
    assert np.load(npy).shape == (1, tiny_stylegan2().num_ws, 16)
    for source in ({"latent_file": handle_file(npy)}, {"latent_text": latent}):
        again = edit(client, **args, **source)[0]
        assert np.array_equal(pixels(again), pixels(moved))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"latent_text": "[1, 2"}, "not valid JSON"),
        ({"latent_text": "[1, 2, 3]"}, r"shape \(8,\)"),
        ({"latent_text": json.dumps({"w": [[[0.0] * 16]]})}, "w latent"),
        ({"layers": "fine", "model": "tiny-sg2"}, "no layers chosen"),
        ({"model": "no-such-model"}, "no-such-model"),
    ],
)
def test_edit_bad_input_is_a_clear_error(client, models, kwargs, message):
    with pytest.raises(Exception, match=message):
        edit(client, **kwargs)


# --- Project ----------------------------------------------------------------------------------


def face_png(client, folder: Path, model: str, seed: int) -> Path:
    """A face the model made, saved as a photo."""
    gallery, _latents, _ = client.predict(seeds=str(seed), model=model, api_name="/generate")
    face = Image.open(gallery[0]["image"]).convert("RGB")  # native resolution
    path = folder / f"face{seed}.png"
    face.resize((max(64, face.width),) * 2, Image.Resampling.NEAREST).save(path)
    return path


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(float) - b) ** 2)))


@pytest.mark.slow
def test_projecting_a_default_dcgan_face_beats_the_mean_face(client, models, tmp_path):
    target_path = face_png(client, tmp_path, "dcgan-digiface", 7)
    outputs = client.predict(
        photo=handle_file(str(target_path)),
        model="dcgan-digiface",
        steps=100,
        preview_every=50,
        api_name="/project",
    )
    live, info, _plot, _pair, video, files, latent = outputs
    target = np.asarray(Image.open(target_path).convert("RGB"))
    projected = next(f for f in files if f.endswith("projected.png"))
    zero = json.dumps([0.0] * len(json.loads(latent)["z"][0]))
    mean_face = client.predict(
        seeds="", model="dcgan-digiface", latent_vector=zero, api_name="/generate"
    )
    mean = np.asarray(Image.open(mean_face[0][0]["image"]).convert("RGB"))  # native 64 px
    got, baseline = psnr(pixels(projected), target), psnr(mean, target)
    assert got > baseline + 6, (got, baseline)
    assert "EfficientNet-Lite0" in info and "Done" in info and "PSNR" in info
    assert Path(video["video"] if isinstance(video, dict) else video).stat().st_size > 0
    again = client.predict(
        seeds="", model="dcgan-digiface", latent_vector=latent, api_name="/generate"
    )[0][0]["image"]
    assert np.array_equal(pixels(again), pixels(live)[::4, ::4])  # native 64 px; live is 4x


def test_stop_mid_projection_keeps_the_current_result(client, app_services, models, tmp_path):
    photo = face_png(client, tmp_path, "tiny-dcgan", 4)
    job = client.submit(
        photo=handle_file(str(photo)),
        model="tiny-dcgan",
        steps=5000,
        preview_every=5,
        api_name="/project",
    )
    deadline = time.monotonic() + 120
    while len(job.outputs()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert app_services.projector.runs.stop_all() == 1
    _live, info, _plot, _pair, _video, files, latent = job.result()
    assert "Stopped" in info and "/5000" in info
    assert {Path(f).name for f in files} >= {"projected.npy", "projected.json", "projected.png"}
    assert len(json.loads(latent)["z"][0]) == 8


def test_stylegan2_projection_and_its_latent_in_edit(client, models, tmp_path):
    photo = face_png(client, tmp_path, "tiny-dcgan", 5)  # any 16 px photo
    outputs = client.predict(
        photo=handle_file(str(photo)),
        model="tiny-sg2",
        steps=6,
        preview_every=3,
        w_plus=True,
        api_name="/project",
    )
    live, info, _, _, _, files, latent = outputs
    assert "Done" in info and json.loads(latent)["space"] == "w"
    assert np.load(next(f for f in files if f.endswith(".npy"))).shape[0] == 1
    edited = edit(client, model="tiny-sg2", latent_text=latent)[0]
    assert pixels(edited).shape[2] == pixels(live).shape[2] == 3  # Edit shows native pixels


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"photo": None}, "photo"),
        ({"crop_size": 0.0}, "crop size|minimum"),
        ({"steps": 0}, "steps|minimum"),
    ],
)
def test_project_bad_input_is_a_clear_error(client, models, tmp_path, kwargs, message):
    photo = face_png(client, tmp_path, "tiny-dcgan", 1)
    args = {"photo": handle_file(str(photo)), "model": "tiny-dcgan", "steps": 2} | kwargs
    with pytest.raises(Exception, match=message):
        client.predict(**args, api_name="/project")


def test_a_text_file_as_the_photo_is_a_clear_error(client, models, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(Exception, match="notes.png is not an image that can be read") as raised:
        client.predict(photo=handle_file(str(bad)), model="tiny-dcgan", api_name="/project")
    assert "Could not preprocess" not in str(raised.value) and "/tmp" not in str(raised.value)


def test_lpips_vgg16_from_the_local_hub_at_its_pinned_revision(
    client, models, hub, tmp_path, app_services
):
    from tests.style.test_lpips import fake_vgg16_safetensors

    app_services.losses.clear()
    ref = L.vgg16_ref()
    hub.add(ref.repo_id, "model.safetensors", fake_vgg16_safetensors(), revision=ref.revision)
    photo = face_png(client, tmp_path, "tiny-dcgan", 2)
    try:
        info = client.predict(
            photo=handle_file(str(photo)), model="tiny-dcgan", steps=3, api_name="/project"
        )[1]
    finally:
        app_services.losses.clear()
    assert "LPIPS (VGG16)" in info and "Done" in info


# --- Judge ------------------------------------------------------------------------------------


def test_judge_returns_d_logits_in_upload_order(client, models, tmp_path):
    paths = [face_png(client, tmp_path, "tiny-dcgan", s) for s in (1, 2, 3)]
    uploads = [handle_file(str(p)) for p in paths]
    logits, gallery, table = client.predict(
        images=uploads, model="tiny-judged", seeds="", api_name="/judge"
    )
    expected = J.judge(tiny_d(), J.prepare_images([str(p) for p in paths], 16)).logits
    assert isinstance(logits, list) and all(isinstance(x, float) for x in logits)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    order = J.rank(expected)
    names = [g["caption"].split(":")[0].split()[1] for g in gallery]
    assert names == [paths[i].name for i in order]
    with_faces = client.predict(images=uploads, model="tiny-judged", seeds="1-2", api_name="/judge")
    assert len(with_faces[0]) == 5 and with_faces[0][:3] == pytest.approx(logits, abs=1e-6)
    assert "sigmoid" in table


def test_judge_without_d_and_bad_uploads_are_clear_errors(client, models, tmp_path):
    photo = face_png(client, tmp_path, "tiny-dcgan", 1)
    with pytest.raises(Exception, match="no discriminator; fine-tune it"):
        client.predict(images=[handle_file(str(photo))], model="tiny-dcgan", api_name="/judge")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(Exception, match="image 1|not a readable image"):
        client.predict(
            images=[handle_file(str(bad))], model="tiny-judged", seeds="", api_name="/judge"
        )
    with pytest.raises(Exception, match="at least one image"):
        client.predict(images=[], model="tiny-judged", seeds="", api_name="/judge")


def test_the_crop_preview_of_a_photo_without_a_face_says_so(app_services, tmp_path):
    """Alignment on, no face: the box and a line, not an error (a painting example may land
    while a page-load event turns alignment on)."""
    from ui.project import ProjectHandlers

    photo = tmp_path / "flat.png"
    Image.new("RGB", (96, 96), (120, 90, 60)).save(photo)
    handlers = ProjectHandlers(app_services.projector)
    preview, face, note = handlers.crop_preview(str(photo), align=True)
    assert preview is not None and "no face was found" in note
    assert face["visible"] is False
