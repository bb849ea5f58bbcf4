"""Exact resume under torchrun (two gloo processes on the CPU): a run of N steps equals N/2
steps, save, resume, N/2 steps, bit for bit, for both architectures. Every process's random
streams (batches, latents, augmentation) must come back, not only rank 0's."""

from __future__ import annotations

import pytest

from gan.finetune import run_state
from tests.gan.finetune.test_cli import _run, setup, sg2_setup  # noqa: F401 (fixtures)
from tests.gan.finetune.test_resume_exact import _assert_same


def _args(data, name: str, model: str, steps: int, extra: list[str]) -> list[str]:
    args = ["--data", str(data), "--name", name, "--model", model, "--no-kid"]
    return [*args, "--steps", str(steps), "--batch-size", "2", "--sample-every", "100", *extra]


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("tiny", ["--d-warmup", "1"]),
        (
            "sg2",
            ["--d-warmup", "1", "--augment-p", "0.3", "--r1-gamma", "1", "--d-reg-interval", "2"],
        ),
    ],
)
def test_torchrun_resume_is_bit_exact_on_every_rank(sg2_setup, model, extra):  # noqa: F811
    checkpoints, data = sg2_setup
    for name, steps, resume in (("whole", 4, []), ("halves", 2, []), ("halves", 2, ["--resume"])):
        done = _run(_args(data, name, model, steps, extra + resume), checkpoints, torchrun=2)
        assert done.returncode == 0, done.stderr[-3000:]
    _assert_same(checkpoints / "whole", checkpoints / "halves")
    saved = run_state.load(checkpoints / "halves")
    assert len(saved["ranks"]) == 1  # rank 1's own streams, beside rank 0's
