"""A generator of hostile network pickles: each class of attack found against the converter.

`CASES` maps a case name to (a function that builds the file's bytes, the error the converter
must give, as a regex); `BENIGN` maps odd-but-honest files to the reference tensors the
conversion must give exactly. Files are built either by pickling Python objects whose
`__reduce__` writes the crafted opcodes, or byte by byte for what no pickler writes.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

from gan.convert import layout
from tests.gan.convert import fakes

P2 = b"\x80\x02"


class Reduce:
    """Pickles as `func(*args)`, then `BUILD state` when a state is given."""

    def __init__(self, func, args, state=None) -> None:
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def raw_tensor(values, offset: int, size: tuple, stride: tuple) -> Reduce:
    """`_rebuild_tensor_v2(storage, offset, size, stride)` with any view the attacker likes
    (`values` a tensor, or a storage to share between views)."""
    storage = values._typed_storage() if isinstance(values, torch.Tensor) else values
    args = (storage, offset, size, stride, False, OrderedDict())
    return Reduce(torch._utils._rebuild_tensor_v2, args)


def _base():
    gc = fakes.tiny_g_config()
    return gc, fakes.random_state(layout.generator_shapes(gc), seed=3)


def with_g(
    tensors: dict | None = None, g_kwargs: dict | None = None, synthesis: dict | None = None
) -> bytes:
    """The tiny G pickle with some tensors replaced and some init kwargs changed."""
    gc, g = _base()
    g |= tensors or {}
    saved = fakes.g_init_kwargs

    def kwargs(config):
        kw = saved(config) | (g_kwargs or {})
        kw["synthesis_kwargs"] = fakes.EasyDict(kw["synthesis_kwargs"] | (synthesis or {}))
        return kw

    fakes.g_init_kwargs = kwargs
    try:
        return fakes.nvidia_pickle_bytes(gc, g)
    finally:
        fakes.g_init_kwargs = saved


def with_tree(edit: Callable[[fakes.Persistent], None]) -> bytes:
    """The tiny G pickle after `edit` changed its persistent tree."""
    gc, g = _base()
    with fakes.reference_globals():
        G = fakes.module_tree(g, "Generator", fakes.g_init_kwargs(gc), "src")
        edit(G)
        return pickle.dumps({"G_ema": G}, protocol=4)


def numpy_dtype_fields() -> bytes:
    """numpy's dtype BUILD with a fake object field at +2 GiB (the out-of-bounds write)."""
    evil_state = (3, "|", None, ("f",), {"f": (np.dtype("O"), 2**31)}, 8, 1, 63)
    dt = Reduce(np.dtype, ("V8", False, True), evil_state)
    arr = Reduce(
        np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"), (1, (1,), dt, False, b"\0" * 8)
    )
    return with_g(g_kwargs={"junk": arr})


def numpy_dtype_state() -> bytes:
    """A plain dtype spec whose BUILD state carries field offsets."""
    dt = Reduce(np.dtype, ("f8", False, True), (3, "<", None, ("f",), {"f": (1, 65536)}, 8, 1, 0))
    return with_g(g_kwargs={"junk": dt})


def numpy_object_array() -> bytes:
    """`_reconstruct` of an object array: its raw data a list of objects."""
    arr = Reduce(
        np._core.multiarray._reconstruct,
        (np.ndarray, (0,), b"b"),
        (1, (2,), np.dtype("O"), False, [1, 2]),
    )
    return with_g(g_kwargs={"junk": arr})


def numpy_array_short_bytes() -> bytes:
    """A float array whose shape asks for more bytes than it has."""
    arr = Reduce(
        np._core.multiarray._reconstruct,
        (np.ndarray, (0,), b"b"),
        (1, (1000,), np.dtype("f8"), False, b"\0" * 16),
    )
    return with_g(g_kwargs={"junk": arr})


def dtype_as_architecture() -> bytes:
    return with_g(synthesis={"architecture": np.dtype("f8")})


def tensor_larger_than_storage() -> bytes:
    return with_g({"mapping.w_avg": raw_tensor(torch.zeros(2), 0, (8,), (1,))})


def tensor_stride_zero() -> bytes:
    return with_g(
        {"synthesis.b16.noise_const": raw_tensor(torch.zeros(1), 0, (4000, 4000), (0, 0))}
    )


def tensor_offset_past_end() -> bytes:
    return with_g({"mapping.w_avg": raw_tensor(torch.zeros(8), 4, (8,), (1,))})


def tensor_huge_stride() -> bytes:
    return with_g({"mapping.w_avg": raw_tensor(torch.zeros(8), 0, (8,), (2**62,))})


def tensor_overlapping_views() -> bytes:
    """300 full views of one 1 M element storage: 300 M elements from a 4 MB file."""
    big = torch.zeros(2**20)._typed_storage()
    views = [raw_tensor(big, 0, (2**20,), (1,)) for _ in range(300)]
    return with_g(g_kwargs={"junk": views})


def _weights(dtype: torch.dtype) -> bytes:
    _, g = _base()
    return with_g({"mapping.fc0.weight": g["mapping.fc0.weight"].to(dtype)})


def huge_memo_index() -> bytes:
    return P2 + b"]r" + struct.pack("<I", 2**28) + b"."


def memo_flood() -> bytes:
    return P2 + b"N" + b"\x94" * 1_000_001 + b"."


def deep_shared_layers(levels: int = 26) -> bytes:
    """26 levels, each layer's two children the same object: 2**26 paths to walk."""

    def edit(G):
        node = G.state["_modules"]["x"] = fakes.Persistent("X", {"_modules": {}}, "src")
        for _ in range(levels):
            inner = fakes.Persistent("FullyConnectedLayer", {"_modules": {}}, "src")
            node.state["_modules"] = OrderedDict(a=inner, b=inner)
            node = inner

    return with_tree(edit)


def cyclic_layers() -> bytes:
    return with_tree(lambda G: G.state["_modules"].__setitem__("loop", G))


def deep_layers() -> bytes:
    def edit(G):
        node = G
        for i in range(40):
            inner = fakes.Persistent("SynthesisLayer", {"_modules": OrderedDict()}, "src")
            node.state["_modules"][f"n{i}"] = inner
            node = inner

    return with_tree(edit)


def self_referencing_list() -> bytes:
    loop: list = []
    loop.append(loop)
    loop.extend([loop] * 1000)
    return with_g(synthesis={"architecture": loop})


def deep_nesting_value() -> bytes:
    """A 100 000 deep list: never hashed, printed or compared, so it is harmless."""
    n = 100_000
    return P2 + b"}(X\x04\x00\x00\x00junk" + b"]" * n + b"a" * (n - 1) + b"u."


def deep_tuple_key() -> bytes:
    n = 100_000
    return P2 + b"}" + b")" + b"\x85" * n + b"Ns."


def _num(value) -> Callable[[], bytes]:
    return lambda: with_g(g_kwargs={"mapping_kwargs": fakes.EasyDict(num_layers=value)})


def huge_filter() -> bytes:
    return with_g(synthesis={"resample_filter": [1.0] * 100_000})


def html_architecture() -> bytes:
    return with_g(synthesis={"architecture": "<img src=x onerror=alert(1)>[x](javascript:1)"})


def html_class_name() -> bytes:
    return with_tree(lambda G: setattr(G, "class_name", "<b>Generator</b>"))


def build_on_converter_function() -> bytes:
    return P2 + b"ctorch._utils\n_rebuild_tensor_v2\n}X\x08\x00\x00\x00__code__K\x01sb."


def huge_long4() -> bytes:
    return P2 + b"\x8b" + struct.pack("<i", 1 << 20) + b"\x01" * (1 << 20) + b"."


def huge_text_long() -> bytes:
    return b"L" + b"9" * 50_000 + b"L\n."


def huge_text_int() -> bytes:
    return b"I" + b"9" * 50_000 + b"\n."


def huge_length_prefix() -> bytes:
    return b"\x80\x04\x8e" + struct.pack("<Q", 1 << 40) + b"x."


def huge_frame() -> bytes:
    return b"\x80\x04\x95" + struct.pack("<Q", 1 << 40) + b"."


def _storage_record(mutate: Callable[[bytes], bytes]) -> Callable[[], bytes]:
    def build() -> bytes:
        record = torch.zeros(8)._typed_storage().__reduce__()[1][0]
        return with_g({"mapping.w_avg": Reduce(torch.storage._load_from_bytes, (mutate(record),))})

    return build


def deflate_bomb_record(record: bytes) -> bytes:
    """A zip storage record, deflated: 1 MB of zeros in a few KB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data/0", b"\0" * (1 << 20))
    return buf.getvalue()


def html_global_name() -> bytes:
    return P2 + b"c<img src=x onerror=alert(1)>\n[x](javascript:1)\n."


def oob_buffer() -> bytes:
    return b"\x80\x05\x97."


def extension_code() -> bytes:
    return P2 + b"\x82\x01."


def inst_opcode() -> bytes:
    return b"(ios\nsystem\n."


def unknown_memo_get() -> bytes:
    return P2 + b"h\x05."


# name -> (builder, the error it must end in)
CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "numpy dtype with a fake field offset": (numpy_dtype_fields, "numpy dtype"),
    "numpy dtype state with fields": (numpy_dtype_state, "numpy dtype"),
    "numpy object array": (numpy_object_array, "numpy (dtype|array)"),
    "numpy array shorter than its shape": (numpy_array_short_bytes, "more or fewer bytes"),
    "dtype as the architecture": (dtype_as_architecture, "architecture is not one of"),
    "tensor larger than its storage": (tensor_larger_than_storage, "past the end of its storage"),
    "stride 0": (tensor_stride_zero, "stride below 1"),
    "offset past the end": (tensor_offset_past_end, "past the end of its storage"),
    "huge stride": (tensor_huge_stride, "stride"),
    "overlapping views": (tensor_overlapping_views, "elements in all"),
    "float64 weights": (lambda: _weights(torch.float64), "mapping.fc0.weight holds float64"),
    "int weights": (lambda: _weights(torch.int64), "mapping.fc0.weight holds int64"),
    "bool weights": (lambda: _weights(torch.bool), "mapping.fc0.weight holds bool"),
    "complex weights": (lambda: _weights(torch.complex64), "mapping.fc0.weight holds complex64"),
    "memo index 2**28": (huge_memo_index, "memo index"),
    "memo flood": (memo_flood, "memo"),
    "shared layers 26 deep": (deep_shared_layers, "appears twice|nested over"),
    "shared layers 8 deep": (lambda: deep_shared_layers(8), "appears twice"),
    "cyclic layers": (cyclic_layers, "appears twice"),
    "layers 40 deep": (deep_layers, "nested over"),
    "self-referencing list as architecture": (self_referencing_list, "architecture is not"),
    "100 000 deep list": (deep_nesting_value, "no 'G_ema' network"),
    "100 000 deep tuple as a dict key": (deep_tuple_key, "dict key"),
    "num_layers=3e7": (_num(30_000_000), "mapping_layers must be an integer from 1 to 16"),
    "num_layers=3e7 as a float": (_num(3e7), "num_layers is a float"),
    "num_layers=True": (_num(True), "num_layers is a bool"),
    "resample filter of 100 000 taps": (huge_filter, "resample_filter is not a list of 1 to 8"),
    "NaN conv_clamp": (lambda: with_g(synthesis={"conv_clamp": float("nan")}), "finite"),
    "Infinity lr": (
        lambda: with_g(g_kwargs={"mapping_kwargs": fakes.EasyDict(lr_multiplier=float("inf"))}),
        "finite",
    ),
    "img_resolution 2**20": (lambda: with_g(g_kwargs={"img_resolution": 2**20}), "power of two"),
    "img_resolution 12": (lambda: with_g(g_kwargs={"img_resolution": 12}), "power of two"),
    "channels 4096": (
        lambda: with_g(synthesis={"channel_base": 2**16, "channel_max": 4096}),
        "channel_max must be an integer from 1 to 1024",
    ),
    "z_dim huge": (lambda: with_g(g_kwargs={"z_dim": 10**30}), "z_dim must be"),
    "HTML in architecture": (html_architecture, "architecture is not one of"),
    "HTML in a class name": (html_class_name, "malformed class name"),
    "BUILD on a converter function": (build_on_converter_function, "refusing to set the state"),
    "HTML in a global's name": (html_global_name, r"refusing to load \?img src=x"),
    "1 MB LONG4": (huge_long4, "integer in the pickle is over"),
    "50 000 digit text LONG": (huge_text_long, "integer in the pickle is too large"),
    "50 000 digit text INT": (huge_text_int, "ValueError"),
    "2**40 byte length": (huge_length_prefix, "reaches past its end"),
    "2**40 byte frame": (huge_frame, "reaches past its end"),
    "deflate bomb storage record": (_storage_record(deflate_bomb_record), "zip archive"),
    "storage record cut short": (_storage_record(lambda r: r[:-4]), "more or fewer bytes"),
    "storage record with a wrong size": (
        _storage_record(lambda r: r[:-40] + struct.pack("<q", 10**12) + r[-32:]),
        "malformed size",
    ),
    "out-of-band buffer": (oob_buffer, "out-of-band buffer"),
    "extension code": (extension_code, "extension code"),
    "INST opcode": (inst_opcode, "INST"),
    "memo GET of nothing": (unknown_memo_get, "Memo value not found"),
}


def _benign_views():
    """Honest tensors that are views: a transpose, an offset slice, one storage shared."""
    _, g = _base()
    big = torch.randn(100)
    w = g["mapping.fc0.weight"]
    tensors = {
        "mapping.fc0.weight": w.t().contiguous().t(),  # a non-contiguous view
        "mapping.w_avg": big[10:18],  # an offset into a larger storage
        "mapping.fc1.bias": big[20:28],  # the same storage again
    }
    expected = g | {k: v.clone() for k, v in tensors.items()}
    return with_g(tensors), expected


def _benign_fp16():
    _, g = _base()
    half = {k: v.half() for k, v in g.items()}
    return with_g(half), half


def _benign_junk():
    _, g = _base()
    big = "x" * 100_000
    return with_g(g_kwargs={"junk": [big] * 2000, "more": np.float32(1.5)}), g


# name -> builder of (bytes, the tensors the conversion must give exactly)
BENIGN: dict[str, Callable[[], tuple[bytes, dict]]] = {
    "views of shared storages": _benign_views,
    "float16 weights": _benign_fp16,
    "DUP-inflated unknown kwargs": _benign_junk,
}
