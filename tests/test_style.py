"""Style transfer: losses against hand-computed values, the optimisers, the loop (previews,
stop, determinism, falling loss), colour preservation, multi-style blending, the loss networks
(VGG19 from a local Hub, offline fallback to EfficientNet-Lite0) and the `stylize` API."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save as save_safetensors
from torch import nn

from core.errors import UserInputError
from style import color, networks
from style.losses import (
    StyleObjective,
    blend_grams,
    content_loss,
    gram_matrix,
    style_layer_loss,
    tv_loss,
)
from style.networks import LossNetwork, NetworkSpec
from style.optim import LBFGS, Adam
from style.transfer import StyleSettings, output_size, run_to_end, scale_sizes, stylize
from style.vgg import LAYER_INDEX, VGG19Features

CPU = torch.device("cpu")

# --- Losses --------------------------------------------------------------------------------


def test_gram_matrix_by_hand():
    # Two channels of two positions: F = [[1, 2], [3, 4]]; F F^T = [[5, 11], [11, 25]];
    # divided by C*H*W = 4.
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    expected = torch.tensor([[[1.25, 2.75], [2.75, 6.25]]])
    assert torch.allclose(gram_matrix(f), expected)
    nhwc = torch.randn(2, 5, 3, 4).contiguous(memory_format=torch.channels_last)
    assert torch.allclose(gram_matrix(nhwc), gram_matrix(nhwc.contiguous()), atol=1e-6)


def test_tv_loss_by_hand():
    # [[0, 1], [2, 4]]: vertical differences 2, 3 -> mean square 6.5; horizontal 1, 2 -> 2.5.
    x = torch.tensor([[0.0, 1.0], [2.0, 4.0]]).view(1, 1, 2, 2)
    assert tv_loss(x).item() == pytest.approx(9.0)
    assert tv_loss(torch.full((1, 3, 8, 8), 0.3)).item() == 0.0


def test_content_and_style_losses_by_hand():
    target = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2)
    features = target + torch.tensor([1.0, 0.0, -1.0, 0.0]).view(1, 1, 2, 2)
    assert content_loss(features, target, normalize=False).item() == pytest.approx(0.5)
    # normalised: divided by the target's mean square (1 + 4 + 9 + 16) / 4 = 7.5
    assert content_loss(features, target).item() == pytest.approx(0.5 / 7.5, rel=1e-5)
    a = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    g = torch.tensor([[3.0, 0.0], [0.0, 1.0]])
    assert style_layer_loss(g, a, normalize=False).item() == pytest.approx(0.5)
    assert style_layer_loss(g, a).item() == pytest.approx(0.5 / 2.0, rel=1e-5)


def test_objective_weights_and_blend():
    grams = [{"a": torch.ones(1, 2, 2)}, {"a": torch.zeros(1, 2, 2)}]
    assert torch.allclose(blend_grams(grams, [3, 1])["a"], torch.full((1, 2, 2), 0.75))
    with pytest.raises(ValueError):
        blend_grams(grams, [0, 0])
    feats = {"a": torch.ones(1, 2, 1, 1)}
    obj = StyleObjective(
        {"a": torch.zeros(1, 2, 1, 1)},
        {"a": torch.zeros(1, 2, 2)},
        {"a": 2.0},
        content_weight=2.0,
        style_weight=3.0,
        tv_weight=5.0,
        normalize=False,
    )
    parts = obj.parts(feats, torch.zeros(1, 3, 4, 4))
    assert parts["content"].item() == pytest.approx(1.0)
    assert parts["style"].item() == pytest.approx(0.25)  # Gram of ones / 2 = 0.5, squared
    assert obj.total(parts).item() == pytest.approx(2.0 * 1.0 + 3.0 * 0.25)


# --- Optimisers ----------------------------------------------------------------------------


def _quartic(n: int = 40):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    a = a @ a.T / n + 0.1 * torch.eye(n)
    b = torch.randn(n, generator=g)
    return (lambda x: 0.5 * x @ a @ x - b @ x + 0.1 * (x**4).sum()), torch.randn(n, generator=g)


@pytest.mark.parametrize("history", [4, 100])
def test_compact_lbfgs_matches_torch_lbfgs(history):
    f, x0 = _quartic()
    xr = x0.clone().requires_grad_(True)
    ref = torch.optim.LBFGS(
        [xr], lr=1, max_iter=1, history_size=history, tolerance_grad=-1, tolerance_change=-1
    )
    xo = x0.clone()
    ours = LBFGS(xo, history_size=history)
    for _ in range(25):

        def closure():
            ref.zero_grad()
            loss = f(xr)
            loss.backward()
            return loss

        ref.step(closure)
        x = xo.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(x), x)
        ours.step(g)
    assert torch.allclose(xo, xr.detach(), atol=1e-4)


def test_adam_descends():
    f, x0 = _quartic()
    x = x0.clone()
    opt = Adam(x, lr=0.05)
    start = f(x).item()
    for _ in range(100):
        xx = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(xx), xx)
        opt.step(g)
    assert f(x).item() < start - 1.0


# --- The loop, on a tiny random network --------------------------------------------------------


class TinyNet(nn.Module):
    """Two conv layers: enough for Gram matrices and content features, fast on any CPU."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1, stride=2)

    def feature_maps(self, x, layers):
        a = torch.relu(self.c1(x))
        b = torch.relu(self.c2(a))
        return {k: v for k, v in (("a", a), ("b", b)) if k in layers}


def tiny_network() -> LossNetwork:
    spec = NetworkSpec("tiny", "Tiny (test)", ("b",), {"a": 1.0, "b": 1.0})
    return LossNetwork(TinyNet().eval().requires_grad_(False), spec, "test")


def _img(seed: int, size=(48, 40)) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    return Image.fromarray(base).resize(size, Image.Resampling.BICUBIC)


def _settings(**kw) -> StyleSettings:
    return StyleSettings(**{"steps": 12, "size": 64, "preview_every": 4, **kw})


def test_loop_streams_previews_and_loss_falls():
    events = list(stylize(_img(0), [_img(1)], _settings(), tiny_network(), CPU))
    assert [e.iteration for e in events] == list(range(1, 13))
    previews = [e.iteration for e in events if e.image is not None]
    assert previews == [4, 8, 12]
    final = events[-1]
    assert final.done and not final.stopped and final.image.size == output_size(48, 40, 64)
    totals = [h["total"] for h in final.history]
    assert len(totals) == 12 and totals[-1] < 0.5 * totals[0]
    assert final.network == "Tiny (test)"


def test_loop_is_deterministic_and_adam_works():
    a = run_to_end(stylize(_img(0), [_img(1)], _settings(init="noise"), tiny_network(), CPU))
    b = run_to_end(stylize(_img(0), [_img(1)], _settings(init="noise"), tiny_network(), CPU))
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    adam = run_to_end(stylize(_img(0), [_img(1)], _settings(optimizer="adam"), tiny_network(), CPU))
    assert adam.history[-1]["total"] < adam.history[0]["total"]


def test_stop_returns_the_current_image():
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= 3

    events = list(stylize(_img(0), [_img(1)], _settings(), tiny_network(), CPU, should_stop))
    final = events[-1]
    assert final.done and final.stopped and final.iteration == 3
    assert final.image is not None and len(final.history) == 3


def test_multiscale_for_large_outputs():
    assert scale_sizes(1024, True) == [256, 512, 1024]
    assert scale_sizes(512, True) == [512]
    assert scale_sizes(1024, False) == [1024]


def test_multi_style_blending():
    net = tiny_network()
    one = run_to_end(stylize(_img(0), [_img(1)], _settings(), net, CPU))
    # A zero blend weight leaves the second style out entirely.
    two = run_to_end(stylize(_img(0), [_img(1), _img(2)], _settings(style_blend=[1, 0]), net, CPU))
    assert np.array_equal(np.asarray(one.image), np.asarray(two.image))
    mixed = run_to_end(
        stylize(_img(0), [_img(1), _img(2)], _settings(style_blend=[1, 1]), net, CPU)
    )
    assert not np.array_equal(np.asarray(one.image), np.asarray(mixed.image))
    with pytest.raises(UserInputError, match="blend"):
        next(stylize(_img(0), [_img(1), _img(2)], _settings(style_blend=[1]), net, CPU))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"size": 10**6}, "size"),
        ({"size": 8}, "size"),
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"style_weight": float("nan")}, "style_weight"),
        ({"content_weight": -1.0}, "content_weight"),
        ({"tv_weight": 1e30}, "tv_weight"),
        ({"content_weight": 0.0, "style_weight": 0.0}, "both"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"init": "zeros"}, "init"),
        ({"preserve_colors": "sepia"}, "preserve_colors"),
    ],
)
def test_absurd_settings_are_clear_errors(kw, message):
    with pytest.raises(UserInputError, match=message):
        next(stylize(_img(0), [_img(1)], _settings(**kw), tiny_network(), CPU))


# --- Colour --------------------------------------------------------------------------------


def test_match_color_takes_the_reference_statistics():
    g = torch.Generator().manual_seed(0)
    src = torch.rand(3, 32, 32, generator=g) * 0.5
    ref = torch.stack([torch.rand(32, 32, generator=g) * 0.4 + 0.5, *torch.rand(2, 32, 32) * 0.2])
    out = color.match_color(src, ref)
    mu_o, cov_o = color.color_stats(out)
    mu_r, cov_r = color.color_stats(ref)
    assert torch.allclose(mu_o, mu_r, atol=0.02)
    assert torch.allclose(cov_o, cov_r, atol=0.01)


def test_luminance_round_trip_and_chroma_kept():
    x = torch.rand(1, 3, 16, 16)
    assert torch.allclose(color.yiq_to_rgb(color.rgb_to_yiq(x)), x, atol=1e-5)
    grey = color.luminance(x)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])


def test_preserve_colors_keeps_the_content_palette():
    content, style = _img(0), Image.new("RGB", (48, 40), (20, 60, 220))
    style = Image.fromarray(
        (np.asarray(style, dtype=np.float32) * 0.7 + np.asarray(_img(5)) * 0.3).astype(np.uint8)
    )
    net = tiny_network()
    kept = run_to_end(stylize(content, [style], _settings(preserve_colors="luminance"), net, CPU))
    taken = run_to_end(stylize(content, [style], _settings(), net, CPU))
    c = torch.from_numpy(np.asarray(content.resize(kept.image.size), dtype=np.float32) / 255)

    def chroma(im: Image.Image) -> torch.Tensor:
        rgb = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)
        return color.rgb_to_yiq(rgb)[1:]

    ref = chroma(content.resize(kept.image.size))
    assert (chroma(kept.image) - ref).abs().mean() < 0.02  # the content's chroma, kept
    assert (chroma(taken.image) - ref).abs().mean() > 0.05  # the style's colours, taken
    assert c.shape[:2] == (kept.image.size[1], kept.image.size[0])
    matched = run_to_end(stylize(content, [style], _settings(preserve_colors="match"), net, CPU))
    assert (chroma(matched.image) - ref).abs().mean() < (chroma(taken.image) - ref).abs().mean()


# --- Loss networks -----------------------------------------------------------------------------


@pytest.fixture
def fresh_networks():
    networks.clear_cache()
    yield
    networks.clear_cache()


def _fake_vgg19_safetensors() -> bytes:
    """Random VGG19 `features.*` tensors (to conv5_1) with timm's names, plus a head tensor."""
    torch.manual_seed(0)
    model = VGG19Features()
    last = LAYER_INDEX["conv5_1"]
    tensors = {k: v.half() for k, v in model.state_dict().items() if int(k.split(".")[1]) <= last}
    tensors["head.fc.weight"] = torch.zeros(2, 2)
    return save_safetensors(tensors)


def test_vgg19_from_the_hub_reads_only_features(hub, fresh_networks):
    ref = networks.vgg19_ref()
    hub.add(ref.repo_id, "model.safetensors", _fake_vgg19_safetensors(), revision=ref.revision)
    net = networks.load_loss_network(CPU)
    assert net.spec.key == networks.VGG19 and "VGG19" in net.label
    assert net.source == f"hub:{ref}"
    assert networks.expected_label() == networks.VGG19_SPEC.label
    assert len(net.module.features) == LAYER_INDEX["relu5_1"] + 1
    feats = net.feature_maps(torch.rand(1, 3, 64, 64), frozenset({"relu1_1", "relu5_1"}))
    assert feats["relu1_1"].shape == (1, 64, 64, 64) and feats["relu5_1"].shape == (1, 512, 4, 4)


def test_offline_falls_back_to_efficientnet(offline_hub, fresh_networks):
    net = networks.load_loss_network(CPU)
    assert net.spec.key == networks.EFFICIENTNET
    assert "EfficientNet-Lite0" in net.label and net.source.startswith("local:")
    assert networks.expected_label() == net.label


def test_corrupt_vgg19_falls_back_too(hub, fresh_networks):
    ref = networks.vgg19_ref()
    hub.add(ref.repo_id, "model.safetensors", b"not a safetensors file", revision=ref.revision)
    assert networks.load_loss_network(CPU).spec.key == networks.EFFICIENTNET


def test_efficientnet_pooled_features_real_weights():
    model = networks.load_efficientnet_lite0(CPU)
    x = torch.rand(2, 3, 97, 150)
    with torch.no_grad():
        f = model.pooled_features(x)
        again = model.pooled_features(x)
    assert f.shape == (2, 1280) and torch.isfinite(f).all() and torch.equal(f, again)
    assert model.feature_dim == 1280


def test_real_network_stylises_a_small_image(images_dir, offline_hub, fresh_networks):
    net = networks.load_loss_network(CPU)
    content = Image.open(images_dir / "tubingen.jpg").convert("RGB")
    style = Image.open(images_dir / "starry_night.jpg").convert("RGB")
    final = run_to_end(stylize(content, [style], _settings(steps=15, size=96), net, CPU))
    h = final.history
    assert h[-1]["style"] < 0.5 * h[0]["style"] and h[-1]["total"] < h[0]["total"]
    assert final.image.size == (96, 72)


# --- The API -----------------------------------------------------------------------------------


def _png_file(path, image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def test_stylize_api_offline(client, tmp_path, images_dir):
    from gradio_client import handle_file

    content = _png_file(
        tmp_path / "c.png", Image.open(images_dir / "tubingen.jpg").resize((96, 72))
    )
    style = _png_file(
        tmp_path / "s.png", Image.open(images_dir / "starry_night.jpg").resize((96, 76))
    )
    image, info, plot = client.predict(
        handle_file(content),
        handle_file(style),
        steps=6,
        size=64,
        content_weight=1.0,
        style_weight=300.0,
        tv_weight=1.0,
        api_name="/stylize",
    )
    assert Image.open(image).size == (64, 48)
    assert "EfficientNet-Lite0" in info and "Done" in info
    assert plot is not None


def test_stylize_api_bad_input_is_clear(client, tmp_path):
    from gradio_client import handle_file

    good = _png_file(tmp_path / "g.png", _img(0, (64, 64)))
    tiny = _png_file(tmp_path / "t.png", _img(0, (16, 16)))
    with pytest.raises(Exception, match="at least 32"):
        client.predict(handle_file(good), handle_file(tiny), steps=2, size=64, api_name="/stylize")
    with pytest.raises(Exception, match="style_weight|minimum value 0"):
        client.predict(
            handle_file(good),
            handle_file(good),
            steps=2,
            size=64,
            style_weight=-5,
            api_name="/stylize",
        )
    with pytest.raises(Exception, match="size|maximum"):
        client.predict(
            handle_file(good), handle_file(good), steps=2, size=10**5, api_name="/stylize"
        )
    # The app still serves.
    image, _, _ = client.predict(
        handle_file(good), handle_file(good), steps=2, size=64, api_name="/stylize"
    )
    assert Image.open(image).size == (64, 64)
