"""Loss networks: VGG19 from a local Hub (features only), offline fallback to
EfficientNet-Lite0, the real EfficientNet-Lite0 features."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from safetensors.torch import save as save_safetensors

from style import networks
from style.transfer import run_to_end, stylize
from style.vgg import LAYER_INDEX, VGG19Features
from tests.style.helpers import settings as _settings

CPU = torch.device("cpu")


# --- Loss networks -----------------------------------------------------------------------------


@pytest.fixture
def nets() -> networks.LossNetworks:
    """The loss networks of a fresh service (nothing loaded yet)."""
    return networks.LossNetworks(CPU)


def _fake_vgg19_safetensors() -> bytes:
    """Random VGG19 `features.*` tensors (to conv5_1) with timm's names, plus a head tensor."""
    torch.manual_seed(0)
    model = VGG19Features()
    last = LAYER_INDEX["conv5_1"]
    tensors = {k: v.half() for k, v in model.state_dict().items() if int(k.split(".")[1]) <= last}
    tensors["head.fc.weight"] = torch.zeros(2, 2)
    return save_safetensors(tensors)


def test_vgg19_from_the_hub_reads_only_features(hub, nets):
    ref = networks.vgg19_ref()
    hub.add(ref.repo_id, "model.safetensors", _fake_vgg19_safetensors(), revision=ref.revision)
    net = nets.load()
    assert net.spec.key == networks.VGG19 and "VGG19" in net.label
    assert net.source == f"hub:{ref}"
    assert nets.expected_label() == networks.VGG19_SPEC.label
    assert len(net.module.features) == LAYER_INDEX["relu5_1"] + 1
    feats = net.feature_maps(torch.rand(1, 3, 64, 64), frozenset({"relu1_1", "relu5_1"}))
    assert feats["relu1_1"].shape == (1, 64, 64, 64) and feats["relu5_1"].shape == (1, 512, 4, 4)


def test_offline_falls_back_to_efficientnet(offline_hub, nets):
    net = nets.load()
    assert net.spec.key == networks.EFFICIENTNET
    assert "EfficientNet-Lite0" in net.label and net.source.startswith("local:")
    assert nets.expected_label() == net.label


def test_corrupt_vgg19_falls_back_too(hub, nets):
    ref = networks.vgg19_ref()
    hub.add(ref.repo_id, "model.safetensors", b"not a safetensors file", revision=ref.revision)
    assert nets.load().spec.key == networks.EFFICIENTNET


def test_efficientnet_pooled_features_real_weights(nets):
    model = nets.efficientnet()
    assert nets.efficientnet() is model  # loaded once, kept by its owner
    x = torch.rand(2, 3, 97, 150)
    with torch.no_grad():
        f = model.pooled_features(x)
        again = model.pooled_features(x)
    assert f.shape == (2, 1280) and torch.isfinite(f).all() and torch.equal(f, again)
    assert model.feature_dim == 1280


def test_real_network_stylises_a_small_image(images_dir, offline_hub, nets):
    net = nets.load()
    content = Image.open(images_dir / "tubingen.jpg").convert("RGB")
    style = Image.open(images_dir / "starry_night.jpg").convert("RGB")
    final = run_to_end(stylize(content, [style], _settings(steps=15, size=96), net, CPU))
    h = final.history
    assert h[-1]["style"] < 0.5 * h[0]["style"] and h[-1]["total"] < h[0]["total"]
    assert final.output.size == (96, 72)


def test_the_bf16_copy_is_made_once_and_kept_by_the_network(offline_hub, nets):
    net = nets.load(networks.EFFICIENTNET)
    copy = net.with_bf16_weights()
    assert net.with_bf16_weights() is copy and copy.spec == net.spec
    convs = [m for m in copy.module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.weight.dtype == torch.bfloat16 for m in convs)
    assert next(net.module.parameters()).dtype == torch.float32  # the original is untouched
