"""DiffAugment shapes and gradients; KID math on known feature sets and a tiny feature net."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.errors import UserInputError
from gan.finetune import augment, kid
from tests.conftest import tiny_generator


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", augment.DEFAULT_POLICY])
@pytest.mark.parametrize("size", [16, 64])
def test_diffaugment_keeps_shape_and_gradient(policy, size):
    x = torch.rand(5, 3, size, size, requires_grad=True)
    y = augment.diff_augment(x * 2 - 1, policy)
    assert y.shape == x.shape and y.is_contiguous()
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_diffaugment_changes_images_and_cutout_zeroes_a_square():
    torch.manual_seed(0)
    x = torch.ones(4, 3, 32, 32)
    y = augment.rand_cutout(x)
    zeros = (y[:, 0] == 0).flatten(1).sum(1)
    assert ((zeros > 0) & (zeros <= 16 * 16)).all()
    t = augment.rand_translation(x)
    assert (t == 0).any() or torch.equal(t, x)  # shifted borders are zero padded
    assert not torch.equal(augment.diff_augment(x, "color"), x)


def test_policy_parsing():
    assert augment.parse_policy("color, translation") == ("color", "translation")
    assert augment.parse_policy("none") == () and augment.parse_policy("") == ()
    with pytest.raises(UserInputError, match="unknown DiffAugment"):
        augment.parse_policy("color,blur")


def test_kid_is_zero_for_equal_distributions_and_grows_with_shift():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 16, generator=g)
    b = torch.randn(300, 16, generator=g)
    same = kid.kid_from_features(a, b, n_subsets=20, subset_size=100)
    near = kid.kid_from_features(a, b + 0.3, n_subsets=20, subset_size=100)
    far = kid.kid_from_features(a, b + 1.0, n_subsets=20, subset_size=100)
    assert abs(same.mean) < 3 * same.std + 1e-3
    assert far.mean > near.mean > same.mean


def test_mmd_is_unbiased_estimator():
    x = torch.randn(50, 8, dtype=torch.float64)
    y = torch.randn(40, 8, dtype=torch.float64) + 0.5
    d = 8
    k = lambda u, v: (u @ v.T / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    expected = (
        (k(x, x).sum() - k(x, x).trace()) / (m * (m - 1))
        + (k(y, y).sum() - k(y, y).trace()) / (n * (n - 1))
        - 2 * k(x, y).mean()
    )
    assert torch.allclose(kid.polynomial_mmd2(x, y), expected)
    with pytest.raises(ValueError):
        kid.polynomial_mmd2(x[:1], y)


class TinyFeatures(nn.Module):
    """A random conv net standing in for EfficientNet-Lite0 (same `pooled_features` contract)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 32, 3, 2)

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        assert x.min() >= 0 and x.max() <= 1
        return self.conv(x).relu().mean(dim=(2, 3))


def test_kid_scorer_is_deterministic_and_accepts_uint8_sets():
    G = tiny_generator(image_size=16)
    real = torch.randint(0, 256, (40, 3, 16, 16), dtype=torch.uint8)
    scorer = kid.KIDScorer(TinyFeatures(), real, torch.device("cpu"), n_fake=32)
    first, second = scorer(G, G.config.nz), scorer(G, G.config.nz)
    assert first == second and first.mean > 0
    assert "×10⁻³" in str(first)
