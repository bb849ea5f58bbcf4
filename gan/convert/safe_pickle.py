"""A pickle reader as strict as torch's weights-only loader, for NVIDIA network pickles.

It is the pure-Python `pickle._Unpickler` (its memo is a dict, so a huge memo index costs
nothing) with these rules on top:

- globals come from a fixed table of stand-ins; nothing is imported and no object of the
  file's choosing is called. numpy is never touched: a numpy dtype becomes a `DtypeCode`, a
  numpy scalar a Python number and a numpy array an `ArrayData` rebuilt from its raw bytes;
- BUILD (object state) is allowed on those two stand-ins only, and REDUCE / NEWOBJ call only
  the table's stand-ins; INST, OBJ, extension codes and out-of-band buffers are refused;
- dict keys and set members must be plain scalars (nothing deep is ever hashed);
- memo indexes, open MARKs, text lines, long integers and every length prefix are bounded;
- tensors are never built while reading: a tensor is a `TensorRef` (storage, offset, size,
  stride) checked against its storage (no stride 0, no growth, element caps) and copied only
  later, for the networks that are converted, and only when it holds float weights.

A storage is the legacy `torch.save` record that `TypedStorage.__reduce__` writes (header
pickles, then the raw little-endian bytes); it is parsed here, with the same reader, never by
`torch.load`.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import re
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar

import torch

from gan.convert import limits
from gan.convert.errors import ConversionError

_SCALARS = (str, bytes, int, float, bool, type(None))
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
_STORAGE_TYPES = {
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
class _StorageType:
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


class _NdarrayClass:
    """Placeholder for `numpy.ndarray` named as `_reconstruct`'s first argument."""


class ArrayData:
    """Stand-in for a numpy array: shape, type code and values rebuilt from its raw bytes."""

    def __init__(self, cls: Any, shape: Any, kind: Any) -> None:
        if cls is not _NdarrayClass or shape != (0,) or kind != b"b":
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


def _reconstruct_persistent_obj(meta: Any) -> PersistentStub:
    """Stand-in for `torch_utils.persistence._reconstruct_persistent_obj`; ignores `module_src`."""
    if type(meta) is not dict or meta.get("type") != "class":
        raise ConversionError("malformed persistent object in the pickle")
    name, state = meta.get("class_name"), meta.get("state")
    if type(name) is not str or not name.isidentifier() or len(name) > limits.MAX_NAME:
        raise ConversionError("a persistent object in the pickle has a malformed class name")
    if type(state) is not dict:
        raise ConversionError(f"the persistent {name} in the pickle has no state dict")
    return PersistentStub(name, state)


def _numpy_scalar(dtype: Any, raw: Any = None) -> int | float | bool:
    """Stand-in for `numpy.core.multiarray.scalar`: a plain Python number."""
    if not isinstance(dtype, DtypeCode) or type(raw) is not bytes or len(raw) != dtype.itemsize:
        raise ConversionError("a numpy scalar in the pickle is not a plain number")
    return dtype.unpack(raw, 1)[0]


def _latin1_bytes(text: Any, encoding: Any = "latin1") -> bytes:
    """`_codecs.encode`, as protocol-2 pickles write bytes; latin-1 only."""
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise ConversionError("refusing a codec call in the pickle")
    try:
        return text.encode("latin1")
    except UnicodeEncodeError:
        raise ConversionError("refusing a codec call in the pickle") from None


def _check_members(items: Any, what: str) -> list:
    if type(items) not in (list, tuple, set, frozenset):
        raise ConversionError(f"a {what} in the pickle is built from something else")
    if any(type(v) not in _SCALARS for v in items):
        raise ConversionError(f"a {what} in the pickle holds something other than plain values")
    return list(items)


def _make_set(items: Any = ()) -> set:
    return set(_check_members(items, "set"))


def _make_frozenset(items: Any = ()) -> frozenset:
    return frozenset(_check_members(items, "frozenset"))


def _ordered_dict(*args: Any) -> collections.OrderedDict:
    if args:
        raise ConversionError("an OrderedDict in the pickle is built with arguments")
    return collections.OrderedDict()


def _load_storage(data: Any) -> StorageData:
    """`torch.storage._load_from_bytes`: the legacy record parsed here, bounds checked."""
    if type(data) is not bytes:
        raise ConversionError("malformed tensor storage in the pickle")
    return parse_storage_record(data)


def _check_view(storage: Any, offset: Any, size: Any, stride: Any) -> int:
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


class _TensorClass:
    """Placeholder for `torch.Tensor` / `torch.nn.Parameter` named as a type argument."""


# --- the reader --------------------------------------------------------------------------------


class _BoundedFile:
    """The file, read only within its remaining bytes and with capped lines."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f, self.left, self.size = f, size, size

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self.left:
            raise ConversionError(
                f"not a readable network pickle: a length of {n} bytes reaches past its end"
            )
        data = self._f.read(n)
        self.left -= len(data)
        if len(data) != n:
            raise ConversionError("not a readable network pickle: it ends early")
        return data

    def readline(self) -> bytes:
        line = self._f.readline(min(limits.MAX_LINE, self.left) + 1)
        self.left -= len(line)
        if len(line) > limits.MAX_LINE:
            raise ConversionError(f"a text line in the pickle is over {limits.MAX_LINE} bytes")
        return line

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[:] = data
        return len(data)


def _refuse(what: str) -> Callable[[SafeUnpickler], None]:
    def load(self: SafeUnpickler) -> None:
        raise ConversionError(f"refusing {what} in the pickle: not in a network pickle")

    return load


# named in a network pickle, but never called by REDUCE (dict comes through NEWOBJ only)
_NOT_CALLED = (dict, _TensorClass, _NdarrayClass)


class SafeUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """The pure-Python unpickler, restricted as the module docstring says.

    `globals_` maps (module, name) to stand-ins; `persistent` handles persistent ids (a
    network pickle has none; a storage record has one)."""

    dispatch: ClassVar[dict] = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(
        self,
        f: BinaryIO,
        size: int,
        globals_: dict[tuple[str, str], Any],
        persistent: Callable[[Any], Any] | None = None,
    ) -> None:
        self.source = _BoundedFile(f, size)
        super().__init__(self.source)
        self._globals, self._persistent = globals_, persistent
        self._callables = {id(v) for v in globals_.values() if callable(v) and v not in _NOT_CALLED}

    @property
    def position(self) -> int:
        return self.source.size - self.source.left

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._globals[(module, name)]
        except KeyError:
            raise ConversionError(
                f"refusing to load {plain(module, 80)}.{plain(name, 80)}: the pickle asks for "
                "code this converter does not allow (only NVIDIA network pickles of tensors and "
                "plain data are read)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise ConversionError("the pickle refers to external storages: not a network pickle")
        return self._persistent(pid)

    # memo: bounded indexes and size
    def _memo_put(self, idx: int) -> None:
        if idx < 0 or idx >= limits.MAX_MEMO:
            raise ConversionError(f"a memo index in the pickle is over {limits.MAX_MEMO}")
        if idx not in self.memo and len(self.memo) >= limits.MAX_MEMO:
            raise ConversionError(f"the pickle memoizes over {limits.MAX_MEMO} objects")
        if not self.stack:
            raise ConversionError("a memo store in the pickle has nothing to store")
        self.memo[idx] = self.stack[-1]

    def load_put(self) -> None:
        line = self.readline()[:-1]
        if not line.isdigit() or len(line) > 12:
            raise ConversionError("a malformed memo index in the pickle")
        self._memo_put(int(line))

    def load_binput(self) -> None:
        self._memo_put(self.read(1)[0])

    def load_long_binput(self) -> None:
        self._memo_put(struct.unpack("<I", self.read(4))[0])

    def load_memoize(self) -> None:
        self._memo_put(len(self.memo))

    def load_mark(self) -> None:
        if len(self.metastack) >= limits.MAX_MARK_DEPTH:
            raise ConversionError(f"the pickle nests over {limits.MAX_MARK_DEPTH} MARKs")
        super().load_mark()

    def load_long(self) -> None:
        line = self.readline()[:-1]
        if len(line) > 2 * limits.MAX_LONG_BYTES + 3:
            raise ConversionError("an integer in the pickle is too large")
        self.append(int(line[:-1] if line.endswith(b"L") else line, 0))

    def load_long4(self) -> None:
        n = struct.unpack("<i", self.read(4))[0]
        if n < 0 or n > limits.MAX_LONG_BYTES:
            raise ConversionError(f"an integer in the pickle is over {limits.MAX_LONG_BYTES} bytes")
        self.append(pickle.decode_long(self.read(n)))

    def load_bytearray8(self) -> None:
        n = struct.unpack("<Q", self.read(8))[0]
        self.append(bytearray(self.read(n)))

    # calls and state: stand-ins only
    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if id(func) not in self._callables or type(args) is not tuple:
            raise ConversionError("refusing a call in the pickle to something not a stand-in")
        self.stack[-1] = func(*args)

    def _new(self, cls: Any, args: Any, kwargs: Any = None) -> None:
        if cls is not dict or type(args) is not tuple or args or kwargs:
            raise ConversionError("refusing to create an object in the pickle (only dicts)")
        self.append(cls())

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self._new(cls, args)

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self._new(cls, args, kwargs)

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) not in (DtypeCode, ArrayData):
            raise ConversionError(
                f"refusing to set the state of a {type(inst).__name__} in the pickle "
                "(only numpy dtypes and arrays carry a state there)"
            )
        inst.set_state(state)

    # containers: exact types, scalar keys and members
    def _set_items(self, target: Any, items: list) -> None:
        if type(target) not in (dict, collections.OrderedDict) or len(items) % 2:
            raise ConversionError("refusing to set items on something not a dict in the pickle")
        for i in range(0, len(items), 2):
            if type(items[i]) not in _SCALARS:
                raise ConversionError("a dict key in the pickle is not a plain value")
            target[items[i]] = items[i + 1]

    def load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._set_items(self.stack[-1], [key, value])

    def load_setitems(self) -> None:
        items = self.pop_mark()
        self._set_items(self.stack[-1], items)

    def load_dict(self) -> None:
        items = self.pop_mark()
        d: dict = {}
        self._set_items(d, items)
        self.append(d)

    def _extend(self, target: Any, items: list) -> None:
        if type(target) is not list:
            raise ConversionError("refusing to append to something not a list in the pickle")
        target.extend(items)

    def load_append(self) -> None:
        value = self.stack.pop()
        self._extend(self.stack[-1], [value])

    def load_appends(self) -> None:
        items = self.pop_mark()
        self._extend(self.stack[-1], items)

    def load_additems(self) -> None:
        items = self.pop_mark()
        if type(self.stack[-1]) is not set:
            raise ConversionError("refusing to add items to something not a set in the pickle")
        self.stack[-1].update(_check_members(items, "set"))

    def load_frozenset(self) -> None:
        self.append(_make_frozenset(self.pop_mark()))


_D = SafeUnpickler.dispatch
for _code, _fn in {
    pickle.PUT: SafeUnpickler.load_put,
    pickle.BINPUT: SafeUnpickler.load_binput,
    pickle.LONG_BINPUT: SafeUnpickler.load_long_binput,
    pickle.MEMOIZE: SafeUnpickler.load_memoize,
    pickle.MARK: SafeUnpickler.load_mark,
    pickle.LONG: SafeUnpickler.load_long,
    pickle.LONG4: SafeUnpickler.load_long4,
    pickle.BYTEARRAY8: SafeUnpickler.load_bytearray8,
    pickle.REDUCE: SafeUnpickler.load_reduce,
    pickle.NEWOBJ: SafeUnpickler.load_newobj,
    pickle.NEWOBJ_EX: SafeUnpickler.load_newobj_ex,
    pickle.BUILD: SafeUnpickler.load_build,
    pickle.SETITEM: SafeUnpickler.load_setitem,
    pickle.SETITEMS: SafeUnpickler.load_setitems,
    pickle.DICT: SafeUnpickler.load_dict,
    pickle.APPEND: SafeUnpickler.load_append,
    pickle.APPENDS: SafeUnpickler.load_appends,
    pickle.ADDITEMS: SafeUnpickler.load_additems,
    pickle.FROZENSET: SafeUnpickler.load_frozenset,
    pickle.INST: _refuse("an INST (class instance) opcode"),
    pickle.OBJ: _refuse("an OBJ (class instance) opcode"),
    pickle.EXT1: _refuse("an extension code"),
    pickle.EXT2: _refuse("an extension code"),
    pickle.EXT4: _refuse("an extension code"),
    pickle.NEXT_BUFFER: _refuse("an out-of-band buffer"),
    pickle.READONLY_BUFFER: _refuse("an out-of-band buffer"),
}.items():
    _D[_code[0]] = _fn


def read_pickle(
    f: BinaryIO,
    size: int,
    globals_: dict[tuple[str, str], Any],
    what: str,
    persistent: Callable[[Any], Any] | None = None,
) -> Any:
    """One pickle from `f` (`size` bytes left in it); any failure is a `ConversionError` that
    says where in `what` it happened."""
    reader = SafeUnpickler(f, size, globals_, persistent)
    try:
        return reader.load()
    except ConversionError as e:
        raise ConversionError(f"{e} (in {what}, near byte {reader.position})") from None
    except MemoryError:
        raise ConversionError(f"out of memory (in {what}, near byte {reader.position})") from None
    except RecursionError:
        raise ConversionError(f"nested too deep (in {what}, near byte {reader.position})") from None
    except Exception as e:  # truncated or corrupt streams, wrong argument types
        raise ConversionError(
            f"not a readable network pickle ({what}, near byte {reader.position}: "
            f"{type(e).__name__}: {plain(str(e))})"
        ) from None


# --- legacy storage records ---------------------------------------------------------------------

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL_VERSION = 1001
_STORAGE_GLOBALS = {("torch", name): _StorageType(*spec) for name, spec in _STORAGE_TYPES.items()}


def _storage_id(pid: Any) -> tuple[_StorageType, str, int]:
    """`('storage', type, key, location, numel, None)` -> (type, key, numel)."""
    ok = type(pid) is tuple and len(pid) == 6 and pid[0] == "storage"
    if not ok or not isinstance(pid[1], _StorageType) or type(pid[2]) is not str:
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
    if type(found) is not tuple or len(found) != 3 or not isinstance(found[0], _StorageType):
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
        self.total += _check_view(storage, offset, size, stride)
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
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
        ("dnnlib.util", "EasyDict"): dict,
        ("dnnlib", "EasyDict"): dict,
        ("collections", "OrderedDict"): _ordered_dict,
        ("_codecs", "encode"): _latin1_bytes,
        ("torch._utils", "_rebuild_tensor_v2"): rebuild,
        ("torch._utils", "_rebuild_tensor"): rebuild,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch._tensor", "_rebuild_from_type_v2"): rebuild_from_type,
        ("torch.storage", "_load_from_bytes"): _load_storage,
        ("torch", "Tensor"): _TensorClass,
        ("torch._tensor", "Tensor"): _TensorClass,
        ("torch.nn.parameter", "Parameter"): _TensorClass,
        ("numpy", "ndarray"): _NdarrayClass,
        ("numpy", "dtype"): DtypeCode,
    }
    for builtins in ("builtins", "__builtin__"):  # protocol <= 2 writes Python 2 names
        table[(builtins, "set")] = _make_set
        table[(builtins, "frozenset")] = _make_frozenset
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = ArrayData
        table[(mod, "scalar")] = _numpy_scalar
    return table


def load_network_pickle(f: BinaryIO) -> Any:
    """Everything in an NVIDIA network pickle, as plain data, stubs and `TensorRef`s."""
    start = f.tell()
    size = f.seek(0, io.SEEK_END) - start
    f.seek(start)
    return read_pickle(f, size, network_globals(), "the network pickle")
