"""Exact resume through the disk: N steps in one run == N/2 + save + resume + N/2, bit for
bit on the CPU, for the DCGAN path and the StyleGAN2 path."""

from __future__ import annotations

import json
import random
import threading

import numpy as np
import pytest
import torch

from core import store
from gan.finetune import run_state
from gan.finetune.config import FinetuneConfig, FinetuneJob
from gan.finetune.loop import run_finetune
from tests.conftest import tiny_generator
from tests.gan.finetune.sg2_tiny import one_thread, tiny_g  # noqa: F401 (autouse fixture)

CPU = torch.device("cpu")
FILES = ("model.safetensors", "generator_train.safetensors", "discriminator.safetensors")


def _tensors(folder) -> dict[str, torch.Tensor]:
    out = {}
    for name in FILES:
        out |= {f"{name}:{k}": v for k, v in store.read_safetensors(folder / name).items()}
    return out


def _assert_same(a, b) -> None:
    ta, tb = _tensors(a), _tensors(b)
    assert ta.keys() == tb.keys()
    for key in ta:
        assert torch.equal(ta[key], tb[key]), key


def _run(job: FinetuneJob, stop_after: int | None = None) -> list:
    stop = threading.Event()
    events = []
    for event in run_finetune(job, CPU, stop, report_every_s=0):
        events.append(event)
        if stop_after is not None and event.losses and event.step >= stop_after:
            stop.set()
    return events


def test_split_join_round_trip():
    tree = {
        "a": torch.arange(3),
        "opt": {0: {"step": torch.tensor(2.0)}, 1: {}},
        "py": random.getstate(),
        "np": np.float64(1.5),
        "l": [1, "x", None],
    }
    tensors, text = run_state.files(tree)
    back = run_state.join(json.loads(text), tensors)
    assert torch.equal(back["a"], tree["a"]) and back["opt"][0]["step"] == 2.0
    assert back["py"] == tree["py"] and back["np"] == 1.5 and back["l"] == [1, "x", None]


def _dcgan_base(checkpoints) -> str:
    G = tiny_generator()
    store.save_pretrained(checkpoints / "tiny", G.config.to_dict(), G.state_dict(), "# tiny\n")
    return "tiny"


def _dcgan_job(name: str, base: str, steps: int, resume: bool = False) -> FinetuneJob:
    torch.manual_seed(3)
    images = torch.randint(0, 256, (12, 3, 16, 16), dtype=torch.uint8)
    config = FinetuneConfig(
        steps=steps, batch_size=4, sample_every=100, n_samples=2, d_warmup=2, kid_samples=0
    )
    return FinetuneJob(images, name, base, config, resume)


def test_dcgan_resume_is_bit_exact(checkpoints):
    base = _dcgan_base(checkpoints)
    _run(_dcgan_job("whole", base, 8))
    _run(_dcgan_job("halves", base, 4))
    torch.manual_seed(999), np.random.seed(5), random.seed(7)  # noise between the runs
    events = _run(_dcgan_job("halves", base, 4, resume=True))
    assert events[-1].done and not any("afresh" in e.message for e in events)
    _assert_same(checkpoints / "whole", checkpoints / "halves")
    assert (checkpoints / "halves" / run_state.TENSORS_NAME).is_file()


def test_dcgan_stop_then_resume_is_bit_exact(checkpoints):
    base = _dcgan_base(checkpoints)
    _run(_dcgan_job("whole", base, 6))
    first = _run(_dcgan_job("stopped", base, 6), stop_after=2)
    assert first[-1].stopped
    done = json.loads((checkpoints / "stopped" / "training_state.json").read_text())["steps_done"]
    _run(_dcgan_job("stopped", base, 6 - done, resume=True))
    _assert_same(checkpoints / "whole", checkpoints / "stopped")


@pytest.mark.parametrize("augment", ["ada", "diffaugment"])
def test_stylegan2_resume_is_bit_exact(checkpoints, augment):
    G = tiny_g()
    store.save_pretrained(checkpoints / "sg2", G.config.to_dict(), G.state_dict(), "# sg2\n")
    images = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(4))  # fmt: skip

    def job(name: str, steps: int, resume: bool = False) -> FinetuneJob:
        config = FinetuneConfig(
            steps=steps, batch_size=2, sample_every=100, n_samples=2, d_warmup=1,
            kid_samples=0, augment=augment, augment_p=0.3, r1_gamma=1.0, d_reg_interval=2,
        )  # fmt: skip
        return FinetuneJob(images, name, "sg2", config, resume)

    _run(job("whole", 6))
    _run(job("halves", 3))
    torch.manual_seed(999), np.random.seed(5), random.seed(7)
    _run(job("halves", 3, resume=True))
    _assert_same(checkpoints / "whole", checkpoints / "halves")
    a, b = (run_state.load(checkpoints / n) for n in ("whole", "halves"))
    assert a["trainer"]["counters"] == b["trainer"]["counters"] == {"batch_idx": 6, "cur_nimg": 12}
    assert a["trainer"]["ada"]["augment"]["p"] == b["trainer"]["ada"]["augment"]["p"]


def test_chunked_run_equals_one_run(checkpoints):
    """ZeroGPU-sized chunks (core.zerogpu.run_chunked), each a resume of the last."""
    from core.zerogpu import run_chunked

    base = _dcgan_base(checkpoints)
    _run(_dcgan_job("whole", base, 7))

    def chunk(c):
        yield from run_finetune(
            _dcgan_job("chunked", base, c.steps, resume=c.index > 0), CPU, report_every_s=0
        )

    events = list(run_chunked(7, 3, chunk))
    assert [e.step for e in events if e.done] == [3, 3, 1]
    _assert_same(checkpoints / "whole", checkpoints / "chunked")
