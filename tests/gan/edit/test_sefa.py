"""SeFa directions (gan.edit) on tiny random DCGAN and StyleGAN2 generators."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import UserInputError
from gan.edit import sefa as edit
from tests.conftest import tiny_generator
from tests.gan.sg2_tiny import one_thread, tiny_stylegan2

_one_thread = pytest.fixture(autouse=True)(one_thread)


def hand_sefa(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """genforce/sefa's recipe: unit-normalise each output's weights, eigen-decompose AᵀA."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    values, vectors = np.linalg.eigh(a.T @ a)
    return values[::-1], vectors[:, ::-1].T


def assert_same_up_to_sign(ours: torch.Tensor, theirs: np.ndarray, k: int) -> None:
    cos = np.abs(np.sum(ours[:k].double().numpy() * theirs[:k], axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-5)


def test_factorize_matches_a_hand_computation_and_is_orthonormal_and_sorted():
    a = np.random.default_rng(0).normal(size=(12, 5))
    values, vectors = edit.factorize(torch.from_numpy(a))
    hv, hvec = hand_sefa(a)
    np.testing.assert_allclose(values.numpy(), hv, rtol=1e-5)
    assert_same_up_to_sign(vectors, hvec, 5)
    torch.testing.assert_close(vectors @ vectors.T, torch.eye(5), atol=1e-5, rtol=0)
    assert torch.all(values[:-1] >= values[1:])


def test_dcgan_directions_come_from_the_first_transposed_convolution():
    G = tiny_generator()
    d = edit.sefa(G)
    w = G.main[0].weight.detach().numpy()  # (nz, C, k, k)
    hv, hvec = hand_sefa(w.reshape(w.shape[0], -1).T)
    assert d.space == "z" and d.vectors.shape == (8, 8)
    np.testing.assert_allclose(d.eigenvalues.numpy(), hv, rtol=1e-5)
    assert_same_up_to_sign(d.vectors, hvec, 8)
    assert d.share.sum().item() == pytest.approx(1.0)
    assert d.labels(2)[0].startswith("#0 (")


def test_stylegan2_directions_stack_the_affines_of_the_chosen_layers():
    G = tiny_stylegan2()
    sd = G.state_dict()
    d = edit.sefa(G, "coarse")
    assert d.space == "w" and d.layers == (0, 1)
    # W+ entry 0 drives b4.conv1, entry 1 drives b8.conv0 (b4.torgb is left out, as genforce does)
    a = torch.cat([sd["synthesis.b4.conv1.affine.weight"], sd["synthesis.b8.conv0.affine.weight"]])
    hv, hvec = hand_sefa(a.numpy())
    np.testing.assert_allclose(d.eigenvalues.numpy(), hv, rtol=1e-5)
    assert_same_up_to_sign(d.vectors, hvec, 16)


def test_stylegan2_all_takes_every_conv_and_the_last_torgb():
    G = tiny_stylegan2()
    names = edit.affine_names(G.state_dict())
    assert len(names) == G.num_ws
    assert names[0] == "synthesis.b4.conv1.affine.weight"
    assert names[-1] == "synthesis.b16.torgb.affine.weight"
    assert not any("b4.torgb" in n or "b8.torgb" in n for n in names)
    assert edit.sefa(G, "all").layers == tuple(range(G.num_ws))


def test_layer_choices_are_parsed_and_clipped():
    assert edit.layer_indices("fine", 10) == (6, 7, 8, 9)
    assert edit.layer_indices("2-3, 5", 10) == (2, 3, 5)
    assert edit.layer_indices([4, 1], 10) == (1, 4)
    with pytest.raises(UserInputError, match="out of range"):
        edit.layer_indices("3-12", 10)
    with pytest.raises(UserInputError, match="no layers"):
        edit.layer_indices("fine", 6)
    with pytest.raises(UserInputError, match="range like"):
        edit.layer_indices("eyes", 10)


def test_dcgan_zero_move_changes_nothing_and_a_move_changes_the_image():
    G = tiny_generator()
    d = edit.sefa(G)
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(G(edit.move(z, d, [0.0, 0.0, 0.0])), G(z))
        moved = edit.move(z, d, [3.0])
        assert (G(moved) - G(z)).abs().max() > 1e-3
    torch.testing.assert_close(moved - z, 3.0 * d.vectors[:1].expand(2, -1))


def test_stylegan2_move_changes_only_the_chosen_layers():
    G = tiny_stylegan2()
    d = edit.sefa(G, "coarse")
    with torch.no_grad():
        ws = G.mapping(torch.randn(1, 16, generator=torch.Generator().manual_seed(2)), None)
        same = edit.move(ws, d, [0.0, 0.0])
        moved = edit.move(ws, d, [0.0, 5.0])
        assert torch.equal(G.synthesis(same), G.synthesis(ws))
        assert (G.synthesis(moved) - G.synthesis(ws)).abs().max() > 1e-3
    assert torch.equal(moved[:, 2:], ws[:, 2:])
    torch.testing.assert_close(moved[0, 0] - ws[0, 0], 5.0 * d.vectors[1])
    with pytest.raises(UserInputError, match="W\\+"):
        edit.move(ws[:, 0], d, [1.0])


def test_strip_spans_the_distances_of_one_direction():
    d = edit.sefa(tiny_generator())
    z = torch.zeros(1, 8)
    row = edit.strip(z, d, k=2, sigmas=[-3, 0, 3])
    torch.testing.assert_close(
        row, torch.stack([-3 * d.vectors[2], 0 * d.vectors[2], 3 * d.vectors[2]])
    )


def test_bad_slider_values_are_refused():
    d = edit.sefa(tiny_generator())
    with pytest.raises(UserInputError, match="at most"):
        edit.offset(d, [0.0] * 9)
    with pytest.raises(UserInputError, match="finite"):
        edit.offset(d, [float("nan")])


def test_cache_reuses_directions_until_the_weights_change():
    cache = edit.DirectionCache(max_items=2)
    G = tiny_generator()
    first = cache.get("m", G)
    assert cache.get("m", G) is first
    with torch.no_grad():
        G.main[0].weight.mul_(-1.5).add_(0.01)
    assert cache.get("m", G) is not first
    cache.get("a", G)
    cache.get("b", G)
    assert len(cache._items) == 2
