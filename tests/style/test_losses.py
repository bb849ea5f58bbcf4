"""Gatys losses against hand-computed values: Gram matrix, TV, content, style, objective."""

from __future__ import annotations

import pytest
import torch

from style.losses import (
    StyleObjective,
    blend_grams,
    content_loss,
    gram_matrix,
    style_layer_loss,
    tv_loss,
)

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
