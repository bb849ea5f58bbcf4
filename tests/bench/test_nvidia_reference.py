"""The scipy stand-in that lets NVIDIA's reference code import and run where scipy is missing."""

from __future__ import annotations

import numpy as np

from bench import nvidia_reference


def _stand_in() -> dict:
    scope: dict = {}
    exec(nvidia_reference.SCIPY_SIGNAL, scope)  # the module text the shim folder holds
    return scope


def test_convolve_is_the_full_convolution_row_by_row_and_in_2d():
    convolve = _stand_in()["convolve"]
    bank = np.arange(12.0).reshape(3, 4)
    low = np.array([0.25, 0.5, 0.25])
    # ADA's call: a bank of filters (rows) against one filter, as a 1-row 2-D array.
    out = convolve(bank, [low])
    assert out.shape == (3, 6)
    for row, expected in zip(out, bank, strict=True):
        assert np.allclose(row, np.convolve(expected, low))
    # A 2-D kernel, against a hand computation: [[1, 2]] * [[1], [1]] = [[1, 2], [1, 2]].
    assert np.array_equal(convolve([[1.0, 2.0]], [[1.0], [1.0]]), [[1.0, 2.0], [1.0, 2.0]])


def test_firwin_is_a_symmetric_low_pass_with_unit_gain():
    firwin = _stand_in()["firwin"]
    taps = firwin(numtaps=12, cutoff=64.0, width=32.0, fs=256.0)
    assert np.isclose(taps.sum(), 1.0) and np.allclose(taps, taps[::-1])
    gain = np.abs(np.fft.rfft(taps, 512))
    assert gain[0] > 0.99 and gain[-1] < 0.05  # passes DC, stops Nyquist
