"""Hyper-parameter sensitivity: two runs side by side that differ in one setting.

Both runs start from the same seed, so they share the initial weights, the batches, the latents
and the fixed sample seeds: any difference between them comes from the chosen setting. Steps
are interleaved (one step of A, one of B) so both advance together and can be plotted live.

Settings (`SETTINGS`):
- "lr": the learning rate of both G and D (the lesson: lowering it can turn a diverging run
  into a converging one);
- "d_loss_threshold": the balance rule's threshold;
- "lr_ratio": lr_g / lr_d, with lr_d kept and lr_g = ratio * lr_d.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
import torch

from core.errors import UserInputError
from gan.lab.collapse import CollapseMeter
from gan.lab.toy import toy_dataset
from gan.lab.train import LabConfig, LabProgress, LabRun, progress

SETTINGS = ("lr", "d_loss_threshold", "lr_ratio")


def variant(config: LabConfig, setting: str, value: float) -> LabConfig:
    """`config` with only `setting` set to `value`."""
    if setting == "lr":
        return replace(config, lr_g=value, lr_d=value)
    if setting == "d_loss_threshold":
        return replace(config, d_loss_threshold=value)
    if setting == "lr_ratio":
        return replace(config, lr_g=config.lr_d * value)
    raise UserInputError(f"setting must be one of {SETTINGS}; got {setting!r}")


def side_by_side(
    config: LabConfig,
    setting: str,
    values: tuple[float, float],
    images: np.ndarray | None = None,
    device: torch.device | str = "cpu",
    should_stop: Callable[[], bool] | None = None,
    pause: Callable[[], None] | None = None,
) -> Iterator[tuple[LabProgress, LabProgress]]:
    """Yield (A's event, B's event) after each interleaved step of the two runs; `pause()`
    before each pair of steps (the app's priority gate)."""
    if len(values) != 2:
        raise UserInputError("give two values to compare")
    configs = [variant(config, setting, float(v)).checked() for v in values]
    if images is None:
        images = toy_dataset(config.toy_images, config.image_size, config.seed)
    runs = [LabRun(c, images, device) for c in configs]
    meter = CollapseMeter(images)
    done = [False, False]
    for _ in range(configs[0].steps):
        if pause is not None:
            pause()
        events = []
        for i, run in enumerate(runs):
            if done[i]:  # a diverged run stays at its last step
                events.append(_stopped(run))
                continue
            event = progress(run, meter, run.step())
            done[i] = bool(event.record and event.record.diverged)
            events.append(event)
        yield events[0], events[1]
        if all(done) or (should_stop and should_stop()):
            break


def _stopped(run: LabRun) -> LabProgress:
    event = progress(run, None, run.history[-1])
    event.preview = None
    event.message += " (stopped)"
    return event
