"""FineTuner: one run per device at a time; a run through the service streams and saves."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from core import store
from core.errors import UserInputError
from gan.finetune.config import FinetuneConfig
from gan.finetune.service import FineTuner
from tests.conftest import tiny_generator

CPU = torch.device("cpu")


def test_one_run_per_device_at_a_time():
    tuner = FineTuner(CPU)
    waited, entered = [], threading.Event()

    def second_run() -> None:
        with tuner.device_slot(lambda: waited.append("told to wait")):
            entered.set()

    with tuner.device_slot():
        thread = threading.Thread(target=second_run)
        thread.start()
        assert not entered.wait(0.3)  # it waits while the first run holds the device
        assert waited == ["told to wait"]
    assert entered.wait(5)
    thread.join()


def test_a_run_through_the_service_prepares_streams_saves_and_stops(checkpoints, tmp_path):
    G = tiny_generator()
    store.save_pretrained(checkpoints / "tiny", G.config.to_dict(), G.state_dict(), "# tiny\n")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(
            tmp_path / f"{i}.png"
        )
        paths.append(str(tmp_path / f"{i}.png"))
    tuner = FineTuner(CPU)
    config = FinetuneConfig(steps=10**4, batch_size=4, kid_samples=0, sample_every=10**4)
    run = tuner.start(paths, "tiny", " svc-ft ", config)
    assert run.job.name == "svc-ft" and len(run.dataset) == 10 and run.dataset.image_size == 16
    events = []
    for event in run.events("me"):
        events.append(event)
        if event.preview is not None and not event.done:  # the first samples, before step 1
            assert tuner.stop("me") and not tuner.stop("someone else")
    assert events[-1].done and events[-1].stopped and events[-1].output == checkpoints / "svc-ft"
    assert tuner.runs.active() == 0  # the stop flag lived only while the run ran
    with pytest.raises(UserInputError, match="invalid model name"):
        tuner.start(paths, "tiny", "../x", config)


class SlowFeatures:
    """A KID feature network that takes `seconds` a batch (a CPU's EfficientNet on big sets)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.seconds)
        return x.flatten(1)[:, :8].float()


def _tiny_run(checkpoints, tmp_path, seconds: float, net_seconds: float, name: str):
    """(events, wall seconds) of a fine-tune with KID, capped at `seconds`."""
    G = tiny_generator()
    store.save_pretrained(checkpoints / "tiny", G.config.to_dict(), G.state_dict(), "# tiny\n")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(8):
        path = tmp_path / f"{name}-{i}.png"
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    tuner = FineTuner(CPU, feature_net=lambda: SlowFeatures(net_seconds))
    config = FinetuneConfig(
        steps=10**6, batch_size=4, kid_samples=16, sample_every=10**6, max_seconds=seconds
    )
    started = time.monotonic()
    events = list(tuner.start(paths, "tiny", name, config).events())
    return events, time.monotonic() - started


def test_kid_before_and_after_count_inside_the_cap(checkpoints, tmp_path):
    """The red team's run with a 20 s cap took 104 s: KID before and after came on top."""
    events, wall = _tiny_run(checkpoints, tmp_path, seconds=2.0, net_seconds=1.0, name="slow")
    messages = " ".join(e.message for e in events)
    assert "KID before training skipped" in messages and "2 s time cap" in messages
    assert events[-1].done and "time cap" in events[-1].message
    assert wall < 2.0 + 1.5  # the cap, a save and some slack (KID alone would take 3 s more)


def test_a_kid_that_fits_leaves_itself_time_after_training(checkpoints, tmp_path):
    events, wall = _tiny_run(checkpoints, tmp_path, seconds=3.0, net_seconds=0.1, name="fits")
    final = events[-1]
    assert final.done and final.metrics["kid_before"] is not None
    assert final.metrics.get("kid_after") is not None  # training stopped early enough
    assert wall < 3.0 + 1.5


def test_data_preparation_counts_inside_the_cap(checkpoints, tmp_path):
    G = tiny_generator()
    store.save_pretrained(checkpoints / "tiny", G.config.to_dict(), G.state_dict(), "# tiny\n")
    path = tmp_path / "a.png"
    Image.new("RGB", (24, 24)).save(path)
    tuner = FineTuner(CPU)
    config = FinetuneConfig(steps=10, batch_size=4, kid_samples=0, max_seconds=1e-6)
    with pytest.raises(UserInputError, match="preparing the images reached .* limit"):
        tuner.start([str(path)] * 8, "tiny", "prep", config)
