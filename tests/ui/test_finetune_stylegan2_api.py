"""The Fine-tune tab on a tiny StyleGAN2 through `gradio_client`: a model converted without
D (fresh D, warm-up), the result generates and its D loads; then a base with a saved D."""

from __future__ import annotations

import json

import pytest
import torch
from gradio_client import handle_file
from PIL import Image

from core import store
from gan.finetune import recipes
from gan.judge import judge
from tests.gan.finetune.sg2_tiny import tiny_d, tiny_g
from tests.ui.test_finetune_api import painting_crops


@pytest.fixture(scope="module")
def sg2_bases(app_services):
    """Two tiny 16 px StyleGAN2 models in the app's checkpoints: G only, and G with its D."""
    folder = store.checkpoints_dir()
    G, D = tiny_g(), tiny_d()
    for name, extra in (("tiny-sg2", {}), ("tiny-sg2-d", {"discriminator.safetensors": D})):
        if (folder / name).exists():
            continue
        store.save_pretrained(
            folder / name,
            G.config.to_dict(),
            G.state_dict(),
            f"# {name}\n",
            extra={k: v.state_dict() for k, v in extra.items()},
            extra_metadata={
                k: {"config": json.dumps(v.config.to_dict())} for k, v in extra.items()
            },
        )
    return "tiny-sg2", "tiny-sg2-d"


def _finetune(client, files, model: str, name: str, **kwargs):
    args = dict(model=model, name=name, steps=6, batch_size=4, sample_every=3, d_warmup=2)
    return client.predict(images=files, **(args | kwargs), api_name="/finetune")


def test_stylegan2_finetune_without_d_generates_and_saves_d(
    client, app_services, sg2_bases, images_dir, tmp_path
):
    files = [handle_file(str(p)) for p in painting_crops(images_dir, tmp_path, 10)]
    status, preview, samples, losses, result = _finetune(
        client, files, sg2_bases[0], "sg2-api", lr_g=0.0025, lr_d=0.0025, kid=True
    )
    assert result["model"] == "sg2-api" and result["steps"] == 6 and result["ended"] == "finished"
    assert result["kid_before"] is not None and result["kid_after"] is not None
    assert "fresh D" in status and "warm-up" in status
    assert result["kimg"] == 6 * 4 / 1000 and 0 <= result["ada_p"] <= 1
    assert {row[1] for row in losses["data"]} >= {"D", "G"}
    assert Image.open(samples).size[0] >= 256 and Image.open(preview).size[0] > 16
    folder = store.checkpoints_dir() / "sg2-api"
    config = store.read_config(folder)
    assert config["model_type"] == "stylegan2-generator" and config["base_model"] == "tiny-sg2"
    assert {"discriminator.safetensors", "run_state.safetensors", "run_state.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert "sg2-api" in app_services.studio.model_choices()  # in every tab's list at once
    G = app_services.studio.generator("sg2-api")
    img = G(torch.randn(2, G.z_dim))
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()
    base = app_services.studio.generator("tiny-sg2")
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(G(z), base(z))  # the faces moved
    D = judge.load_discriminator("sg2-api")
    assert D(img).shape == (2, 1)

    # resume continues the run: kimg and steps carry on
    _, _, _, _, again = _finetune(client, files, sg2_bases[0], "sg2-api", resume=True, kid=False)
    state = json.loads((folder / "training_state.json").read_text())
    assert again["steps"] == 6 and state["steps_done"] == 12


def test_stylegan2_with_saved_d_uses_freeze_d(client, sg2_bases, images_dir, tmp_path):
    files = [handle_file(str(p)) for p in painting_crops(images_dir, tmp_path, 8)]
    status, *_, result = _finetune(
        client, files, sg2_bases[1], "sg2-api-d", freeze_d=1, kid=False, augment="diffaugment"
    )
    assert result["steps"] == 6 and "Freeze-D" in status and "fresh" not in status
    before = store.read_safetensors(
        store.checkpoints_dir() / "tiny-sg2-d" / "discriminator.safetensors"
    )
    after = store.read_safetensors(
        store.checkpoints_dir() / "sg2-api-d" / "discriminator.safetensors"
    )
    frozen = [k for k in before if k.startswith("b16.")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert not all(torch.equal(before[k], after[k]) for k in before)


def test_stylegan2_bad_settings_are_clear_errors(client, sg2_bases, images_dir, tmp_path):
    files = [handle_file(str(p)) for p in painting_crops(images_dir, tmp_path, 8)]
    with pytest.raises(Exception, match="ada_target must be in|greater than maximum value 1"):
        _finetune(client, files, sg2_bases[0], "sg2-bad", ada_target=1.5, kid=False)
    with pytest.raises(Exception, match="not in the list of choices|augment must be one of"):
        _finetune(client, files, sg2_bases[0], "sg2-bad", augment="blur", kid=False)


def test_stylegan2_api_defaults_follow_the_model(client, sg2_bases, images_dir, tmp_path):
    """Only the images, model and name: the run takes the StyleGAN2 defaults of the model's
    resolution on this device (not the DCGAN ones the page opened with)."""
    endpoint = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    params = {p["parameter_name"]: p for p in endpoint["/finetune"]["parameters"]}
    assert params["lr_g"]["parameter_default"] is None and params["steps"]["parameter_default"] == 0
    files = [handle_file(str(p)) for p in painting_crops(images_dir, tmp_path, 8)]
    *_, result = client.predict(
        images=files, model=sg2_bases[0], name="sg2-api-auto", kid=False, api_name="/finetune"
    )
    expected = recipes.recipe_for("stylegan2").defaults(16, "cpu")
    assert result["steps"] == expected.steps and result["ended"] == "finished"
    state = json.loads(
        (store.checkpoints_dir() / "sg2-api-auto" / "training_state.json").read_text()
    )
    cfg = state["sg2_config"]
    assert cfg["lr_g"] == cfg["lr_d"] == expected.lr_g == 0.0025  # not DCGAN's 2e-4
    assert cfg["batch_size"] == expected.batch_size and cfg["d_warmup"] == expected.d_warmup
    assert state["config"]["sample_every"] == expected.sample_every
    assert (cfg["beta1_g"], cfg["beta2_g"], cfg["d_loss_threshold"]) == (0.0, 0.99, 0.0)


def test_a_conditional_stylegan2_is_refused_over_the_api(
    client, app_services, images_dir, tmp_path
):
    G = tiny_g()
    config = G.config.to_dict() | {"c_dim": 2}
    cond = type(G)(type(G.config).from_dict(config))
    store.save_pretrained(
        store.checkpoints_dir() / "tiny-sg2-cond", config, cond.state_dict(), "#\n"
    )
    files = [handle_file(str(p)) for p in painting_crops(images_dir, tmp_path, 4)]
    with pytest.raises(Exception, match="conditional"):
        client.predict(images=files, model="tiny-sg2-cond", name="cond-ft", api_name="/finetune")
    assert not (store.checkpoints_dir() / "cond-ft").exists()


def test_a_stylegan2_finetune_is_usable_at_once_in_every_tab(
    client, sg2_bases, images_dir, tmp_path
):
    """Fine-tune, then the same name through every GAN tab's endpoint, with no restart."""
    files = [handle_file(str(p)) for p in painting_crops(images_dir, tmp_path, 8)]
    *_, result = _finetune(client, files, sg2_bases[0], "sg2-every-tab", kid=False)
    assert result["ended"] == "finished"
    name = "sg2-every-tab"
    gallery, _, info = client.predict(seeds="1, 2", model=name, api_name="/generate")
    assert len(gallery) == 2 and name in info
    *_, info = client.predict(seeds="1, 2", frames=4, model=name, api_name="/interpolate")
    assert name in info
    grid, mixed, _, info = client.predict(
        row_seeds="1", column_seeds="2", model=name, api_name="/style_mix"
    )
    assert Image.open(grid).size[0] > 16 and len(mixed) >= 1
    edited, *_ = client.predict(model=name, seed=3, direction_0=2.0, api_name="/edit")
    photo = tmp_path / "face.png"  # one of its faces, upscaled to the photo size Project takes
    Image.open(gallery[0]["image"]).resize((64, 64)).save(photo)
    *_, latent = client.predict(
        photo=handle_file(str(photo)), model=name, steps=2, preview_every=1, api_name="/project"
    )
    assert json.loads(latent)["space"] in ("z", "w") and Image.open(edited).size[0] == 16
    logits, ranked, _ = client.predict(
        images=[handle_file(str(photo))], model=name, seeds="4", api_name="/judge"
    )
    assert len(logits) == 2 and len(ranked) == 2  # the upload and one face, judged by its D
