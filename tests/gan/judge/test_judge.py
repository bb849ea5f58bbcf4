"""The discriminator's verdict (gan.judge) with tiny DCGAN and StyleGAN2 discriminators."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from core import store
from core.errors import UserInputError
from gan.judge import judge as J
from gan.judge.service import Judge
from gan.models.dcgan import Discriminator, DiscriminatorConfig, init_weights
from tests.conftest import tiny_generator
from tests.gan.sg2_tiny import one_thread, tiny_stylegan2_d

_one_thread = pytest.fixture(autouse=True)(one_thread)


def dcgan_d(seed: int = 0) -> Discriminator:
    torch.manual_seed(seed)
    D = Discriminator(DiscriminatorConfig(ndf=4, image_size=16))
    D.apply(init_weights)
    return D.eval()


def fixed_images(n: int = 5) -> torch.Tensor:
    return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(7)) * 2 - 1


def save_model(folder, G, D=None, d_metadata=None) -> None:
    extra = {}
    store.save_pretrained(folder, G.config.to_dict(), G.state_dict(), "card", extra)
    if D is not None:
        save_file(dict(D.state_dict()), str(folder / J.DISCRIMINATOR_NAME), metadata=d_metadata)


def test_dcgan_verdict_is_d_per_image_in_upload_order():
    D, x = dcgan_d(), fixed_images()
    v = J.judge(D, x)
    with torch.no_grad():
        expected = [float(D(x[i : i + 1])) for i in range(5)]
    np.testing.assert_allclose(v.logits, expected, rtol=1e-6)
    assert v.ranking == sorted(range(5), key=lambda i: -expected[i])
    np.testing.assert_allclose(v.probabilities, 1 / (1 + np.exp(-np.array(expected))), rtol=1e-6)
    assert J.judge(D, x.flip(0)).ranking == [4 - i for i in v.ranking]
    assert json.loads(json.dumps(v.to_json()))["logits"] == v.logits


def test_ranking_is_fixed_on_fixed_weights_and_ties_keep_upload_order():
    assert J.rank([0.5, 2.0, -1.0, 2.0]) == [1, 3, 0, 2]
    v1, v2 = J.judge(dcgan_d(3), fixed_images()), J.judge(dcgan_d(3), fixed_images())
    assert v1.ranking == v2.ranking and v1.logits == v2.logits
    assert J.sigmoid(-1000.0) == 0.0 and J.sigmoid(1000.0) == 1.0


def test_stylegan2_verdict_alone_and_together():
    D, x = tiny_stylegan2_d(), fixed_images(4)
    alone = J.judge(D, x)
    with torch.no_grad():
        expected = [float(D(x[i : i + 1])) for i in range(4)]
        batch = D(x).flatten().tolist()
    np.testing.assert_allclose(alone.logits, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(J.judge(D, x, together=True).logits, batch, rtol=1e-5, atol=1e-6)
    with pytest.raises(UserInputError, match="one batch"):
        J.judge(D, fixed_images(6), together=True)  # minibatch-stddev groups of 4


def test_service_loads_each_kind_of_discriminator(checkpoints, tmp_path):
    G = tiny_generator()
    save_model(checkpoints / "dc", G, dcgan_d())
    D2 = tiny_stylegan2_d()
    meta = {"config": json.dumps(D2.config.to_dict())}
    save_model(checkpoints / "sg", G, D2, meta)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray((np.random.default_rng(i).random((40, 30, 3)) * 255).astype(np.uint8)).save(
            paths[-1]
        )
    judge = Judge()
    v = judge.score("dc", paths)
    assert len(v.logits) == 3 and sorted(v.ranking) == [0, 1, 2]
    assert isinstance(judge.discriminator("sg"), type(D2))
    assert len(judge.score("sg", paths).logits) == 3


def test_a_model_without_discriminator_says_how_to_get_one(checkpoints):
    save_model(checkpoints / "plain", tiny_generator())
    with pytest.raises(UserInputError, match="no discriminator; fine-tune it"):
        Judge().score("plain", [np.zeros((32, 32, 3), np.uint8)])


def test_bad_uploads_get_clear_errors(checkpoints, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(UserInputError, match="image 1"):
        J.prepare_images([bad], 16)
    with pytest.raises(UserInputError, match="at least one"):
        J.prepare_images([], 16)
    with pytest.raises(UserInputError, match="at most"):
        J.prepare_images([np.zeros((8, 8, 3), np.uint8)] * 65, 16)
    (checkpoints / "broken").mkdir()
    G = tiny_generator()
    save_model(checkpoints / "broken", G)
    (checkpoints / "broken" / J.DISCRIMINATOR_NAME).write_bytes(b"junk")
    with pytest.raises(UserInputError, match="corrupt"):
        Judge().discriminator("broken")
