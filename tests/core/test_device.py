"""core.device directly: the choice of device, out-of-memory detection, memory release."""

from __future__ import annotations

import pytest
import torch

from core import device


def test_preference_then_environment_then_auto(monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_DEVICE", "cpu")
    assert device.resolve_device() == torch.device("cpu")
    assert device.resolve_device("cpu") == torch.device("cpu")
    monkeypatch.delenv("GAN_STUDIO_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device.resolve_device().type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_it_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        device.resolve_device()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        device.resolve_device("cuda:1")


def test_out_of_memory_errors_are_recognised():
    assert device.is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert device.is_out_of_memory(RuntimeError("MPS backend out of memory"))
    assert not device.is_out_of_memory(RuntimeError("shapes do not match"))
    assert not device.is_out_of_memory(ValueError("out of memory"))


def test_release_memory_is_harmless_on_the_cpu():
    device.release_memory(torch.device("cpu"))
