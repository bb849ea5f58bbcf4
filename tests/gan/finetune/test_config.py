"""FinetuneConfig: absurd values are clear errors, fixable ones are corrected; device defaults."""

from __future__ import annotations

import pytest
import torch

from core.errors import UserInputError
from gan.finetune.config import MAX_SECONDS, MAX_STEPS, FinetuneConfig

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lr_g", float("nan"), "finite"),
        ("lr_d", -1.0, "learning rate"),
        ("lr_g", 5.0, "learning rate"),
        ("beta1_d", 1.0, r"\[0, 1\)"),
        ("steps", 0, "at least 1"),
        ("batch_size", 1, "at least 2"),
        ("steps", 2.5, "whole number"),
        ("diffaugment", "blur", "DiffAugment"),
        ("d_loss_threshold", float("inf"), "finite"),
        ("freezed", -1, "freezed"),
        ("freezed", 2.5, "whole number"),
        ("freeze_d", 9, "D blocks"),
        ("ada_kimg", 0, "ada_kimg"),
        ("pl_weight", float("nan"), "finite"),
        ("pl_weight", -2, "pl_weight"),
        ("pl_decay", 2, "pl_decay"),
        ("ema_rampup", 5, "ema_rampup"),
        ("pl_batch_shrink", 0, "pl_batch_shrink"),
        ("g_reg_interval", 0, "g_reg_interval"),
    ],
)
def test_absurd_hyperparameters_are_clear_errors(field, value, message):
    with pytest.raises(UserInputError, match=message):
        FinetuneConfig(**{field: value}).checked(100)


def test_fixable_hyperparameters_are_corrected():
    config, notes = FinetuneConfig(batch_size=64, steps=10**9, max_seconds=1e9).checked(20)
    assert config.batch_size == 20 and config.steps == MAX_STEPS
    assert config.max_seconds == MAX_SECONDS
    assert len(notes) == 3 and "20 images" in notes[0] + notes[1]


def test_device_defaults_live_in_one_place():
    cpu, gpu = FinetuneConfig.for_device("cpu"), FinetuneConfig.for_device("cuda")
    assert (cpu.steps, cpu.batch_size, cpu.sample_every, cpu.kid_samples) == (100, 16, 20, 64)
    assert gpu.steps > cpu.steps and gpu.batch_size > cpu.batch_size
    assert cpu.lr_g == FinetuneConfig().lr_g  # the rest are the dataclass's defaults
    assert FinetuneConfig.for_device("cpu", steps=7).steps == 7
