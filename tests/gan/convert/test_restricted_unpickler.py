"""The NVIDIA pickle reader runs nothing from the file: code-running pickles are refused and the
embedded module source is never executed."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import subprocess

import pytest
import torch

from gan.convert import ConversionError, convert_network_pickle, layout
from tests.gan.convert import fakes


def _marker_src(marker) -> str:
    # what NVIDIA's loader would exec(); it must never run here
    return f"open({str(marker)!r}, 'w').write('ran')\nclass Generator: pass\n"


class _Reduce:
    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _evil_pickles(marker) -> dict[str, bytes]:
    cmd = f"touch {marker}"
    return {
        "os.system": pickle.dumps(_Reduce(os.system, cmd)),
        "builtins.eval": pickle.dumps(_Reduce(builtins.eval, f"open({str(marker)!r}, 'w')")),
        "builtins.exec": pickle.dumps(_Reduce(builtins.exec, f"open({str(marker)!r}, 'w')")),
        "subprocess.Popen": pickle.dumps(_Reduce(subprocess.Popen, ["touch", str(marker)])),
        "builtins.getattr": pickle.dumps(_Reduce(getattr, builtins.print, "__self__")),
    }


@pytest.mark.parametrize(
    "name", ["os.system", "builtins.eval", "builtins.exec", "subprocess.Popen", "builtins.getattr"]
)
def test_code_running_pickles_are_refused(tmp_path, name):
    marker = tmp_path / "ran"
    data = _evil_pickles(marker)[name]
    with pytest.raises(ConversionError, match="refusing to load"):
        convert_network_pickle(io.BytesIO(data))
    assert not marker.exists()


def test_evil_object_nested_in_a_network_state_is_refused(tmp_path):
    marker = tmp_path / "ran"
    gc = fakes.tiny_g_config()
    g = fakes.random_state(layout.generator_shapes(gc))
    data = fakes.nvidia_pickle_bytes(
        gc, g, extra={"progress": _Reduce(os.system, f"touch {marker}")}
    )
    with pytest.raises(ConversionError, match="refusing to load (posix|os|nt).system"):
        convert_network_pickle(io.BytesIO(data))
    assert not marker.exists()


def test_embedded_source_is_never_executed(tmp_path):
    marker = tmp_path / "ran"
    gc = fakes.tiny_g_config()
    g = fakes.random_state(layout.generator_shapes(gc))
    data = fakes.nvidia_pickle_bytes(gc, g, module_src=_marker_src(marker))
    assert _marker_src(marker).encode() in data  # the source really is in the file
    out = convert_network_pickle(io.BytesIO(data))
    assert torch.equal(out.state["synthesis.b4.const"], g["synthesis.b4.const"])
    assert not marker.exists()


def test_unknown_globals_are_refused():
    # an ordinary torch module instead of a persistent NVIDIA one: its class is a global
    data = pickle.dumps({"G_ema": torch.nn.Linear(2, 2)})
    with pytest.raises(ConversionError, match="refusing to load torch.nn.modules.linear.Linear"):
        convert_network_pickle(io.BytesIO(data))
    with pytest.raises(ConversionError, match="refusing to load training.networks.Generator"):
        convert_network_pickle(io.BytesIO(b"\x80\x04ctraining.networks\nGenerator\n)\x81."))


def test_persistent_ids_are_refused():
    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return "storage" if isinstance(obj, str) and obj == "x" else None

    buf = io.BytesIO()
    P(buf).dump({"G_ema": "x"})
    with pytest.raises(ConversionError, match="external storages"):
        convert_network_pickle(io.BytesIO(buf.getvalue()))
