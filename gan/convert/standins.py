"""The stand-ins that a network pickle's globals resolve to (`gan.convert.safe_pickle`):
plain data for numpy dtypes, scalars and arrays, `TensorRef` views checked against their
`StorageData`, and the few builtins a pickle may call. Nothing here imports or calls anything
the file names."""

from __future__ import annotations

import collections
import math
import re
import struct
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from gan.convert import limits
from gan.convert.errors import ConversionError

SCALARS = (str, bytes, int, float, bool, type(None))
_NOT_PLAIN = re.compile(r"[^\w .,:;'()=+-]")


def plain(text: str, limit: int = 200) -> str:
    """Text from the file, as it may appear in a message: short, no markup characters."""
    return _NOT_PLAIN.sub("?", text[:limit])


# --- stand-ins ------------------------------------------------------------------------------------


@dataclass
class PersistentStub:
    """What a persistent NVIDIA object left in the pickle: its class name and its state."""

    class_name: str
    state: dict = field(repr=False)


@dataclass(frozen=True)
class StorageData:
    """One tensor storage: a dtype name, its element size and its raw little-endian bytes."""

    dtype: str
    itemsize: int
    data: memoryview = field(repr=False)

    @property
    def numel(self) -> int:
        return len(self.data) // self.itemsize


@dataclass(frozen=True)
class TensorRef:
    """A tensor view checked against its storage; `materialize` copies it (floats only)."""

    storage: StorageData
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.size

    @property
    def dtype(self) -> str:
        return self.storage.dtype

    def materialize(self, what: str) -> torch.Tensor:
        """A contiguous float tensor with this view's values (float64 and non-floats refused)."""
        dtype = FLOAT_DTYPES.get(self.storage.dtype)
        if dtype is None:
            raise ConversionError(
                f"{what} holds {self.storage.dtype} values: only float32, float16 and bfloat16 "
                "weights are read (NVIDIA's pickles hold float32)"
            )
        if math.prod(self.size) == 0:
            return torch.empty(self.size, dtype=dtype)
        with warnings.catch_warnings():  # read-only buffer: only read before the clone
            warnings.simplefilter("ignore", UserWarning)
            base = torch.frombuffer(self.storage.data, dtype=dtype)
        return torch.as_strided(base, self.size, self.stride, self.offset).clone()


FLOAT_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# torch.<Name>Storage -> (dtype name, element size)
STORAGE_TYPES = {
    "FloatStorage": ("float32", 4),
    "HalfStorage": ("float16", 2),
    "BFloat16Storage": ("bfloat16", 2),
    "DoubleStorage": ("float64", 8),
    "LongStorage": ("int64", 8),
    "IntStorage": ("int32", 4),
    "ShortStorage": ("int16", 2),
    "CharStorage": ("int8", 1),
    "ByteStorage": ("uint8", 1),
    "BoolStorage": ("bool", 1),
    "ComplexFloatStorage": ("complex64", 8),
    "ComplexDoubleStorage": ("complex128", 16),
    "UntypedStorage": ("uint8", 1),
}


@dataclass(frozen=True)
class StorageType:
    dtype: str
    itemsize: int


# numpy dtype strings -> struct format (little-endian); only plain numbers
_NUMPY_CODES = {
    "f2": "e",
    "f4": "f",
    "f8": "d",
    "i1": "b",
    "i2": "h",
    "i4": "i",
    "i8": "q",
    "u1": "B",
    "u2": "H",
    "u4": "I",
    "u8": "Q",
    "b1": "?",
}


class DtypeCode:
    """Stand-in for `numpy.dtype(spec, align, copy)`: a numeric type code, nothing else."""

    def __init__(self, spec: Any, align: Any = False, copy: Any = True) -> None:
        if type(spec) is not str or spec not in _NUMPY_CODES:
            raise ConversionError("a numpy dtype in the pickle is not a plain number type")
        if type(align) is not bool or type(copy) is not bool:
            raise ConversionError("a numpy dtype in the pickle has malformed arguments")
        self.code, self.ready = spec, False

    @property
    def itemsize(self) -> int:
        return struct.calcsize("<" + _NUMPY_CODES[self.code])

    def set_state(self, state: Any) -> None:
        """numpy's dtype state `(3, byteorder, None, None, None, -1, -1, 0)`: nothing else."""
        ok = (
            type(state) is tuple
            and len(state) == 8
            and state[0] == 3
            and state[1] in ("<", "|")
            and state[2:5] == (None, None, None)
            and state[5:] == (-1, -1, 0)
        )
        if not ok or self.ready:
            raise ConversionError(
                "a numpy dtype in the pickle has a state other than a plain little-endian number"
            )
        self.ready = True

    def unpack(self, raw: bytes, count: int) -> tuple:
        if not self.ready:
            raise ConversionError("a numpy dtype in the pickle is used before its state")
        return struct.unpack(f"<{count}{_NUMPY_CODES[self.code]}", raw)


class NdarrayClass:
    """Placeholder for `numpy.ndarray` named as `_reconstruct`'s first argument."""


class ArrayData:
    """Stand-in for a numpy array: shape, type code and values rebuilt from its raw bytes."""

    def __init__(self, cls: Any, shape: Any, kind: Any) -> None:
        if cls is not NdarrayClass or shape != (0,) or kind != b"b":
            raise ConversionError("a numpy array in the pickle is not a plain ndarray")
        self.shape: tuple[int, ...] | None = None
        self.values: tuple = ()

    def set_state(self, state: Any) -> None:
        """`(1, shape, dtype, is_fortran, rawdata)`, the raw bytes checked against the shape."""
        if type(state) is not tuple or len(state) != 5 or state[0] != 1 or self.shape is not None:
            raise ConversionError("a numpy array in the pickle has a malformed state")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, DtypeCode) or type(fortran) is not bool or type(raw) is not bytes:
            raise ConversionError("a numpy array in the pickle is not an array of plain numbers")
        size = _check_shape(shape, "a numpy array")
        if size > limits.MAX_ARRAY_ELEMENTS:
            raise ConversionError(
                f"a numpy array in the pickle has over {limits.MAX_ARRAY_ELEMENTS} elements"
            )
        if len(raw) != size * dtype.itemsize:
            raise ConversionError(
                "a numpy array in the pickle has more or fewer bytes than its shape"
            )
        self.shape, self.values = shape, dtype.unpack(raw, size)


def _check_shape(shape: Any, what: str) -> int:
    """Element count of a shape tuple of small non-negative ints, within the per-tensor cap."""
    if type(shape) is not tuple or len(shape) > limits.MAX_DIMS:
        raise ConversionError(f"{what} in the pickle has a malformed shape")
    if any(type(n) is not int or n < 0 or n > limits.MAX_TENSOR_ELEMENTS for n in shape):
        raise ConversionError(f"{what} in the pickle has a malformed shape")
    size = math.prod(shape)
    if size > limits.MAX_TENSOR_ELEMENTS:
        raise ConversionError(
            f"{what} in the pickle has {size} elements: over the cap of "
            f"{limits.MAX_TENSOR_ELEMENTS} per tensor"
        )
    return size


# --- stand-in functions -----------------------------------------------------------------------


def reconstruct_persistent_obj(meta: Any) -> PersistentStub:
    """Stand-in for `torch_utils.persistence._reconstruct_persistent_obj`; ignores `module_src`."""
    if type(meta) is not dict or meta.get("type") != "class":
        raise ConversionError("malformed persistent object in the pickle")
    name, state = meta.get("class_name"), meta.get("state")
    if type(name) is not str or not name.isidentifier() or len(name) > limits.MAX_NAME:
        raise ConversionError("a persistent object in the pickle has a malformed class name")
    if type(state) is not dict:
        raise ConversionError(f"the persistent {name} in the pickle has no state dict")
    return PersistentStub(name, state)


def numpy_scalar(dtype: Any, raw: Any = None) -> int | float | bool:
    """Stand-in for `numpy.core.multiarray.scalar`: a plain Python number."""
    if not isinstance(dtype, DtypeCode) or type(raw) is not bytes or len(raw) != dtype.itemsize:
        raise ConversionError("a numpy scalar in the pickle is not a plain number")
    return dtype.unpack(raw, 1)[0]


def latin1_bytes(text: Any, encoding: Any = "latin1") -> bytes:
    """`_codecs.encode`, as protocol-2 pickles write bytes; latin-1 only."""
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise ConversionError("refusing a codec call in the pickle")
    try:
        return text.encode("latin1")
    except UnicodeEncodeError:
        raise ConversionError("refusing a codec call in the pickle") from None


def check_members(items: Any, what: str) -> list:
    if type(items) not in (list, tuple, set, frozenset):
        raise ConversionError(f"a {what} in the pickle is built from something else")
    if any(type(v) not in SCALARS for v in items):
        raise ConversionError(f"a {what} in the pickle holds something other than plain values")
    return list(items)


def make_set(items: Any = ()) -> set:
    return set(check_members(items, "set"))


def make_frozenset(items: Any = ()) -> frozenset:
    return frozenset(check_members(items, "frozenset"))


def ordered_dict(*args: Any) -> collections.OrderedDict:
    if args:
        raise ConversionError("an OrderedDict in the pickle is built with arguments")
    return collections.OrderedDict()


def check_view(storage: Any, offset: Any, size: Any, stride: Any) -> int:
    """Element count of a view; raises unless it lies inside its storage, strides >= 1."""
    if not isinstance(storage, StorageData):
        raise ConversionError("a tensor in the pickle has no storage")
    numel = _check_shape(size, "a tensor")
    if type(stride) is not tuple or len(stride) != len(size):
        raise ConversionError("a tensor in the pickle has malformed strides")
    if any(type(s) is not int or s < 1 or s > 1 << 40 for s in stride):
        raise ConversionError(
            "a tensor in the pickle has a stride below 1 (broadcast) or too large"
        )
    if type(offset) is not int or offset < 0:
        raise ConversionError("a tensor in the pickle has a malformed storage offset")
    if (
        numel
        and offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) >= storage.numel
    ):
        raise ConversionError("a tensor in the pickle reaches past the end of its storage")
    if numel > storage.numel:
        raise ConversionError("a tensor in the pickle has more elements than its storage")
    return numel


class TensorClass:
    """Placeholder for `torch.Tensor` / `torch.nn.Parameter` named as a type argument."""
