"""An NVIDIA network pickle read with `gan.convert.safe_pickle`: the legacy storage records
inside it (parsed here, never by `torch.load`) and the table of stand-ins for its globals."""

from __future__ import annotations

import io
import struct
from typing import Any, BinaryIO

from gan.convert import limits
from gan.convert.errors import ConversionError
from gan.convert.safe_pickle import read_pickle
from gan.convert.standins import (
    STORAGE_TYPES,
    ArrayData,
    DtypeCode,
    NdarrayClass,
    StorageData,
    StorageType,
    TensorClass,
    TensorRef,
    check_view,
    latin1_bytes,
    make_frozenset,
    make_set,
    numpy_scalar,
    ordered_dict,
    reconstruct_persistent_obj,
)

# --- legacy storage records ---------------------------------------------------------------------

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL_VERSION = 1001
_STORAGE_GLOBALS = {("torch", name): StorageType(*spec) for name, spec in STORAGE_TYPES.items()}


def _storage_id(pid: Any) -> tuple[StorageType, str, int]:
    """`('storage', type, key, location, numel, None)` -> (type, key, numel)."""
    ok = type(pid) is tuple and len(pid) == 6 and pid[0] == "storage"
    if not ok or not isinstance(pid[1], StorageType) or type(pid[2]) is not str:
        raise ConversionError("malformed storage id")
    if type(pid[3]) is not str or type(pid[4]) is not int or pid[4] < 0 or pid[5] is not None:
        raise ConversionError("malformed storage id (storage views are not read)")
    return pid[1], pid[2], pid[4]


def parse_storage_record(data: bytes) -> StorageData:
    """The bytes `torch.save(storage, _use_new_zipfile_serialization=False)` writes."""
    if data[:2] == b"PK":
        raise ConversionError(
            "a tensor storage in the pickle is a zip archive: only the legacy storage records "
            "that pickle writes are read"
        )
    f, what = io.BytesIO(data), "a tensor storage record"
    heads = [read_pickle(f, len(data) - f.tell(), {}, what) for _ in range(3)]
    magic, version, sys_info = heads
    if magic != _MAGIC or version != _PROTOCOL_VERSION or type(sys_info) is not dict:
        raise ConversionError("a tensor storage in the pickle has a malformed header")
    if sys_info.get("little_endian") is not True:
        raise ConversionError("a tensor storage in the pickle is big-endian: not read")
    found = read_pickle(f, len(data) - f.tell(), _STORAGE_GLOBALS, what, _storage_id)
    if type(found) is not tuple or len(found) != 3 or not isinstance(found[0], StorageType):
        raise ConversionError("a tensor storage record in the pickle holds no storage")
    stype, key, numel = found
    keys = read_pickle(f, len(data) - f.tell(), {}, what)
    if keys != [key]:
        raise ConversionError("a tensor storage record in the pickle holds other storages")
    start = f.tell() + 8
    header = data[start - 8 : start]
    if len(header) != 8 or struct.unpack("<q", header)[0] != numel:
        raise ConversionError("a tensor storage in the pickle has a malformed size")
    if len(data) - start != numel * stype.itemsize:
        raise ConversionError("a tensor storage in the pickle has more or fewer bytes than it says")
    return StorageData(stype.dtype, stype.itemsize, memoryview(data)[start:])


class _ViewCounter:
    """`_rebuild_tensor_v2` for one file: checks each view and caps the elements in all."""

    def __init__(self) -> None:
        self.total = 0

    def __call__(self, storage: Any, offset: Any, size: Any, stride: Any, *_: Any) -> TensorRef:
        self.total += check_view(storage, offset, size, stride)
        if self.total > limits.MAX_TOTAL_ELEMENTS:
            raise ConversionError(
                f"the pickle's tensors hold over {limits.MAX_TOTAL_ELEMENTS} elements in all"
            )
        return TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data: Any, *_ignored: Any) -> TensorRef:
    """`torch._utils._rebuild_parameter(_with_state)`: keep the data, drop hooks and state."""
    if not isinstance(data, TensorRef):
        raise ConversionError("a parameter in the pickle holds no tensor")
    return data


def network_globals() -> dict[tuple[str, str], Any]:
    """The stand-in table of one network pickle (a fresh tensor counter each time)."""
    rebuild = _ViewCounter()

    def rebuild_from_type(func: Any, _new_type: Any, args: Any, _state: Any) -> TensorRef:
        if (func is not rebuild and func is not _rebuild_parameter) or type(args) is not tuple:
            raise ConversionError("refusing a tensor rebuilt by an unknown function")
        return func(*args)

    table: dict[tuple[str, str], Any] = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): reconstruct_persistent_obj,
        ("dnnlib.util", "EasyDict"): dict,
        ("dnnlib", "EasyDict"): dict,
        ("collections", "OrderedDict"): ordered_dict,
        ("_codecs", "encode"): latin1_bytes,
        ("torch._utils", "_rebuild_tensor_v2"): rebuild,
        ("torch._utils", "_rebuild_tensor"): rebuild,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): rebuild_from_type,
        ("torch.storage", "_load_from_bytes"): _load_storage,
        ("torch", "Tensor"): TensorClass,
        ("torch._tensor", "Tensor"): TensorClass,
        ("torch.nn.parameter", "Parameter"): TensorClass,
        ("numpy", "ndarray"): NdarrayClass,
        ("numpy", "dtype"): DtypeCode,
    }
    for builtins in ("builtins", "__builtin__"):  # protocol <= 2 writes Python 2 names
        table[(builtins, "set")] = make_set
        table[(builtins, "frozenset")] = make_frozenset
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = ArrayData
        table[(mod, "scalar")] = numpy_scalar
    return table


def load_network_pickle(f: BinaryIO) -> Any:
    """Everything in an NVIDIA network pickle, as plain data, stubs and `TensorRef`s."""
    start = f.tell()
    size = f.seek(0, io.SEEK_END) - start
    f.seek(start)
    return read_pickle(f, size, network_globals(), "the network pickle")


def _load_storage(data: Any) -> StorageData:
    """`torch.storage._load_from_bytes`: the legacy record parsed here, bounds checked."""
    if type(data) is not bytes:
        raise ConversionError("malformed tensor storage in the pickle")
    return parse_storage_record(data)
