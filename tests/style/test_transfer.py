"""The style-transfer loop on a tiny random network: previews, stop, determinism, falling
loss, multi-scale, multi-style blending, clear errors; colour preservation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import UserInputError
from style import color
from style.transfer import output_size, run_to_end, scale_sizes, stylize
from tests.style.helpers import img as _img
from tests.style.helpers import settings as _settings
from tests.style.helpers import tiny_network

CPU = torch.device("cpu")


# --- The loop, on a tiny random network --------------------------------------------------------


def test_loop_streams_previews_and_loss_falls():
    events = list(stylize(_img(0), [_img(1)], _settings(), tiny_network(), CPU))
    assert [e.step for e in events] == list(range(1, 13))
    previews = [e.step for e in events if e.preview is not None]
    assert previews == [4, 8, 12]
    final = events[-1]
    assert final.done and not final.stopped and final.output.size == output_size(48, 40, 64)
    totals = [h["total"] for h in final.history]
    assert len(totals) == 12 and totals[-1] < 0.5 * totals[0]
    assert final.message == "Tiny (test)"


def test_loop_is_deterministic_and_adam_works():
    a = run_to_end(stylize(_img(0), [_img(1)], _settings(init="noise"), tiny_network(), CPU))
    b = run_to_end(stylize(_img(0), [_img(1)], _settings(init="noise"), tiny_network(), CPU))
    assert np.array_equal(np.asarray(a.output), np.asarray(b.output))
    adam = run_to_end(stylize(_img(0), [_img(1)], _settings(optimizer="adam"), tiny_network(), CPU))
    assert adam.history[-1]["total"] < adam.history[0]["total"]


def test_stop_returns_the_current_image():
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= 3

    events = list(stylize(_img(0), [_img(1)], _settings(), tiny_network(), CPU, should_stop))
    final = events[-1]
    assert final.done and final.stopped and final.step == 3
    assert final.output is not None and len(final.history) == 3


def test_multiscale_for_large_outputs():
    assert scale_sizes(1024, True) == [256, 512, 1024]
    assert scale_sizes(512, True) == [512]
    assert scale_sizes(1024, False) == [1024]


def test_multi_style_blending():
    net = tiny_network()
    one = run_to_end(stylize(_img(0), [_img(1)], _settings(), net, CPU))
    # A zero blend weight leaves the second style out entirely.
    two = run_to_end(stylize(_img(0), [_img(1), _img(2)], _settings(style_blend=[1, 0]), net, CPU))
    assert np.array_equal(np.asarray(one.output), np.asarray(two.output))
    mixed = run_to_end(
        stylize(_img(0), [_img(1), _img(2)], _settings(style_blend=[1, 1]), net, CPU)
    )
    assert not np.array_equal(np.asarray(one.output), np.asarray(mixed.output))
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
    c = torch.from_numpy(np.asarray(content.resize(kept.output.size), dtype=np.float32) / 255)

    def chroma(im: Image.Image) -> torch.Tensor:
        rgb = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)
        return color.rgb_to_yiq(rgb)[1:]

    ref = chroma(content.resize(kept.output.size))
    assert (chroma(kept.output) - ref).abs().mean() < 0.02  # the content's chroma, kept
    assert (chroma(taken.output) - ref).abs().mean() > 0.05  # the style's colours, taken
    assert c.shape[:2] == (kept.output.size[1], kept.output.size[0])
    matched = run_to_end(stylize(content, [style], _settings(preserve_colors="match"), net, CPU))
    assert (chroma(matched.output) - ref).abs().mean() < (chroma(taken.output) - ref).abs().mean()


def test_pause_is_called_once_before_every_iteration():
    """The app's priority gate gets one pause per iteration; the result does not change."""
    pauses: list[int] = []
    events = []

    def pause() -> None:
        pauses.append(len(events))

    for event in stylize(_img(0), [_img(1)], _settings(), tiny_network(), CPU, pause=pause):
        events.append(event)
    assert pauses == list(range(12))  # before iteration k, k events have been seen
    plain = run_to_end(stylize(_img(0), [_img(1)], _settings(), tiny_network(), CPU))
    assert np.array_equal(np.asarray(events[-1].output), np.asarray(plain.output))
