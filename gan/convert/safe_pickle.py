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
pickles, then the raw little-endian bytes); `gan.convert.network_reader` parses it with the
same reader, never with `torch.load`. The stand-ins live in `gan.convert.standins`.
"""

from __future__ import annotations

import collections
import pickle
import struct
from collections.abc import Callable
from typing import Any, BinaryIO, ClassVar

from gan.convert import limits
from gan.convert.errors import ConversionError
from gan.convert.standins import (
    SCALARS,
    ArrayData,
    DtypeCode,
    NdarrayClass,
    TensorClass,
    check_members,
    make_frozenset,
    plain,
)

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
_NOT_CALLED = (dict, TensorClass, NdarrayClass)


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
            if type(items[i]) not in SCALARS:
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
        self.stack[-1].update(check_members(items, "set"))

    def load_frozenset(self) -> None:
        self.append(make_frozenset(self.pop_mark()))


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
