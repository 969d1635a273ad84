"""Reading PyTorch files as data: tensors, numbers, strings and containers, never code.

``torch.load`` hands a TorchScript archive to ``torch.jit.load``, which compiles the
archive's ``code/`` and runs its ``__setstate__`` methods (TorchScript can write files with
``torch.from_file(..., shared=True)``), and ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` turns some
versions' defaults into a full unpickle. Doorways reads model files here instead: the
pickle through an unpickler that knows a short list of globals (tensor rebuilders, storage
types, ``OrderedDict``; TorchScript classes become inert ``ScriptObject`` records), and the
storages from the archive's ``data/`` entries, each checked against its declared size and a
byte budget before it is read. ``code/`` is never opened; the environment is never read.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy
import torch

from doorways_engine.compat_torch import storage_key
from doorways_engine.errors import CorruptCheckpointError

MAX_PICKLE_BYTES = 64 << 20  # the structure of a checkpoint, not its tensors
MAX_RATIO = 16  # torch stores entries uncompressed; random floats compress ~1.1x
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "ComplexFloatStorage": torch.complex64,
    "ComplexDoubleStorage": torch.complex128,
    "UntypedStorage": torch.uint8,
}
# vars() never triggers torch's lazy module __getattr__, unlike getattr(torch, name).
_DTYPES = {name: obj for name, obj in vars(torch).items() if isinstance(obj, torch.dtype)}


class UnsafeFileError(CorruptCheckpointError):
    """The file asks for something a data-only reader refuses (a global, a size)."""


class _Refused(Exception):
    """Raised inside the unpickler; the text continues "the file ..."."""


class ScriptObject:
    """A TorchScript object (a module) kept as data: its pickled state, never its code.

    A module's state is a dict of attribute name -> value (parameters, buffers, submodules);
    a class with its own ``__getstate__`` leaves whatever that returned, unused."""

    state: Any = None

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.state = None

    def __setstate__(self, state: object) -> None:
        self.state = state


class Inert:
    """Stand-in for the named non-tensor classes a checkpoint may carry (Lightning's
    callback classes used as dict keys, its AttributeDict): built, never run."""

    state: Any = None

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.state = args

    def __setstate__(self, state: object) -> None:
        self.state = state


@dataclass(frozen=True)
class _StorageType:
    """What ``torch.FloatStorage`` and its kin unpickle to here: a dtype, not a class."""

    dtype: torch.dtype


@dataclass(frozen=True)
class _Storage:
    data: torch.Tensor  # uint8, the storage's bytes
    dtype: torch.dtype


def _rebuild_tensor(
    storage: object,
    offset: object,
    size: object,
    stride: object,
    requires_grad: object = False,
    hooks: object = None,
    metadata: object = None,
) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` for data: a view that must fit its storage."""
    if not isinstance(storage, _Storage):
        raise _Refused("has a tensor without a storage")
    if not (_is_int(offset) and _int_tuple(size) and _int_tuple(stride)):
        raise _Refused("has a tensor with malformed sizes")
    if len(size) != len(stride) or len(size) > 16:
        raise _Refused("has a tensor with malformed sizes")
    capacity = storage.data.numel() // _itemsize(storage.dtype)
    if not _fits(offset, tuple(size), tuple(stride), capacity):
        raise _Refused(f"has a tensor of size {tuple(size)} that does not fit its storage")
    t = torch.empty(0, dtype=storage.dtype)
    try:
        return t.set_(storage.data.untyped_storage(), offset, torch.Size(size), tuple(stride))
    except RuntimeError as exc:
        raise _Refused(f"has a tensor that does not fit its storage ({_one_line(exc)})") from None


def _fits(offset: int, size: tuple, stride: tuple, capacity: int) -> bool:
    """Whether a view reads only elements ``0..capacity-1`` of its storage: ``set_`` would
    otherwise GROW a resizable storage to the view's reach (a 4 GB stride in a tiny file).
    The element count is checked too, since a stride-0 view repeats one element."""
    numel = 1
    for n in size:
        numel *= n
    if numel == 0:
        return offset <= capacity
    if min((offset, *size, *stride)) < 0 or numel > capacity:
        return False
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    return last < capacity


def _buffer(nbytes: int) -> torch.Tensor:
    """A uint8 buffer whose storage cannot be resized (it is numpy's), so no later
    ``set_`` (a BUILD onto a tensor) can grow it past what the file holds."""
    return torch.from_numpy(numpy.empty(nbytes, dtype=numpy.uint8))


def _rebuild_parameter(data: object, requires_grad: object = False, hooks: object = None):
    if not isinstance(data, torch.Tensor):
        raise _Refused("has a parameter without a tensor")
    return data


def _encode(text: object, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: text codecs only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "ascii"):
        raise _Refused("uses a disallowed codec")
    return text.encode(encoding)


def _same(value: object, *rest: object) -> object:
    return value


_GLOBALS: dict[str, object] = {
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "collections.OrderedDict": collections.OrderedDict,
    "torch.Size": torch.Size,
    "torch.device": torch.device,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.complex": complex,
    "_codecs.encode": _encode,
    # TorchScript's pickler tags typed lists and dicts with these; the value is the data.
    "torch.jit._pickle.restore_type_tag": _same,
    "torch.jit._pickle.build_intlist": _same,
    "torch.jit._pickle.build_doublelist": _same,
    "torch.jit._pickle.build_boollist": _same,
    "torch.jit._pickle.build_tensorlist": _same,
}
_RENAMED = {"__builtin__": "builtins", "copy_reg": "copyreg"}  # protocol-2 pickles


class _Unpickler(pickle.Unpickler):
    def __init__(
        self,
        file: BinaryIO,
        *,
        storage: Callable[[tuple], _Storage] | None,
        script_objects: bool,
        inert: frozenset[str],
    ) -> None:
        super().__init__(file, encoding="utf-8")
        self._storage = storage
        self._script_objects = script_objects
        self._inert = inert

    def find_class(self, module: str, name: str) -> object:
        module = _RENAMED.get(module, module)
        full = f"{module}.{name}"
        if full in _GLOBALS:
            return _GLOBALS[full]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        if self._script_objects and (module == "__torch__" or module.startswith("__torch__.")):
            return ScriptObject
        if full in self._inert:
            return Inert
        raise _Refused(f"names the global {full[:120]}, which could run code")

    def persistent_load(self, pid: object) -> _Storage:
        if self._storage is None:
            raise _Refused("has a storage where none belongs")
        if not isinstance(pid, tuple) or not pid:
            raise _Refused("has a malformed storage reference")
        return self._storage(pid)


def read_torch_file(
    path: Path,
    *,
    max_bytes: int,
    script_objects: bool = False,
    inert: Iterable[str] = (),
) -> Any:
    """Unpickle a ``torch.save`` file (zip or legacy) or a TorchScript archive as data.

    ``max_bytes`` bounds the tensor data read; a file declaring more is refused before any
    of it is read. ``script_objects`` lets TorchScript classes in as ``ScriptObject``."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return _read_zip(path, zf, max_bytes, script_objects, frozenset(inert))
        with path.open("rb") as fh:
            return _read_legacy(path, fh, max_bytes, frozenset(inert))
    except CorruptCheckpointError:
        raise
    except _Refused as exc:
        raise UnsafeFileError(
            f"{path} is refused: it {exc} (Doorways reads model files as data only)"
        ) from None
    except (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        KeyError,
    ) as exc:
        raise CorruptCheckpointError(
            f"{path} could not be read ({type(exc).__name__}: {_one_line(exc)}); "
            "it is probably truncated: delete it and fetch again"
        ) from None
    except Exception as exc:  # a malformed pickle can raise almost anything; none runs code
        raise CorruptCheckpointError(
            f"{path} is malformed ({type(exc).__name__}: {_one_line(exc)})"
        ) from None


def _archive_prefix(path: Path, zf: zipfile.ZipFile) -> str:
    pickles = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
    pickles = [n for n in pickles if n.count("/") <= 1]
    if len(pickles) != 1:
        raise CorruptCheckpointError(f"{path} is a zip file but not a PyTorch archive")
    return pickles[0][: -len("data.pkl")]


def _read_zip(
    path: Path, zf: zipfile.ZipFile, max_bytes: int, script_objects: bool, inert: frozenset[str]
) -> Any:
    prefix = _archive_prefix(path, zf)
    infos = {i.filename: i for i in zf.infolist()}
    order = infos.get(f"{prefix}byteorder")
    if order is not None and order.file_size < 64 and zf.read(order).strip() != b"little":
        raise CorruptCheckpointError(f"{path} was saved on a big-endian machine; not supported")
    entries = [i for n, i in infos.items() if n.startswith(f"{prefix}data/")]
    for info in entries:
        _check_ratio(path, info)
    declared = sum(i.file_size for i in entries)
    if declared > max_bytes:
        raise UnsafeFileError(
            f"{path} declares {_mb(declared)} of tensor data, more than the {_mb(max_bytes)}"
            " its model's architecture and the file's own size allow; refusing to read it"
        )
    pkl = infos[f"{prefix}data.pkl"]
    _check_ratio(path, pkl)
    if pkl.file_size > MAX_PICKLE_BYTES:
        raise UnsafeFileError(f"{path}: its data.pkl declares {_mb(pkl.file_size)}; refusing")
    loaded: dict[str, torch.Tensor] = {}
    budget = max_bytes

    def storage(pid: tuple) -> _Storage:
        nonlocal budget
        dtype, key, numel = _storage_ref(pid, legacy=False)
        if key not in loaded:
            nbytes = numel * _itemsize(dtype)
            info = infos.get(f"{prefix}data/{key}")
            if info is None:
                raise _Refused(f"names a storage data/{key[:40]} it does not hold")
            if nbytes > info.file_size:
                raise _Refused(
                    f"declares {_mb(nbytes)} for data/{key[:40]}, which holds {_mb(info.file_size)}"
                )
            budget -= nbytes
            if budget < 0:
                raise _Refused(f"declares more than {_mb(max_bytes)} of tensors")
            data = _buffer(nbytes)
            with zf.open(info) as fh:
                _read_exactly(fh, data)
            loaded[key] = data
        return _Storage(loaded[key], dtype)

    with zf.open(pkl) as fh:
        raw = fh.read(MAX_PICKLE_BYTES + 1)
    unpickler = _Unpickler(
        io.BytesIO(raw), storage=storage, script_objects=script_objects, inert=inert
    )
    result = unpickler.load()
    return _checked(result, {storage_key(d): d.numel() for d in loaded.values()})


def _read_legacy(path: Path, fh: BinaryIO, max_bytes: int, inert: frozenset[str]) -> Any:
    """The pre-1.6 format: three header pickles, the object, its storage keys, raw data."""

    def plain() -> Any:
        return _Unpickler(fh, storage=None, script_objects=False, inert=inert).load()

    if plain() != _LEGACY_MAGIC or plain() != _LEGACY_PROTOCOL:
        raise CorruptCheckpointError(f"{path} is not a PyTorch checkpoint (bad magic number)")
    sys_info = plain()
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise CorruptCheckpointError(f"{path} was saved on a big-endian machine; not supported")
    storages: dict[str, _Storage] = {}
    budget = max_bytes

    def storage(pid: tuple) -> _Storage:
        nonlocal budget
        dtype, key, numel = _storage_ref(pid, legacy=True)
        if key not in storages:
            budget -= numel * _itemsize(dtype)
            if budget < 0:
                raise _Refused(f"declares more than {_mb(max_bytes)} of tensors")
            storages[key] = _Storage(_buffer(numel * _itemsize(dtype)), dtype)
        return storages[key]

    result = _Unpickler(fh, storage=storage, script_objects=False, inert=inert).load()
    keys = plain()
    if not isinstance(keys, list) or set(keys) != set(storages):
        raise _Refused("lists storages that do not match its tensors")
    for key in keys:
        found = storages[key]
        numel = int.from_bytes(_read_bytes(fh, 8), "little", signed=True)
        if numel * _itemsize(found.dtype) != found.data.numel():
            raise _Refused(f"holds a storage {key[:40]} of another size")
        _read_exactly(fh, found.data)
    return _checked(result, {storage_key(s.data): s.data.numel() for s in storages.values()})


def _checked(result: Any, nbytes: dict[int, int]) -> Any:
    """Check every tensor reached from the result once more: a pickle may BUILD onto a
    tensor (``Tensor.__setstate__`` re-views it or sets backward hooks), after the checks
    in ``_rebuild_tensor``. ``nbytes`` maps each storage read from the file to the size it
    was read at; a storage's size now could have grown with the view that asked for it."""
    stack, seen = [result], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            held = nbytes.get(storage_key(obj))
            if held is None:
                raise _Refused("has a tensor on a storage the file does not hold")
            view = (obj.storage_offset(), tuple(obj.shape), obj.stride())
            if not _fits(*view, held // obj.element_size()):
                raise _Refused(f"has a tensor of size {tuple(obj.shape)} larger than its storage")
            if getattr(obj, "_backward_hooks", None):
                raise _Refused("sets hooks on a tensor")
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif isinstance(obj, ScriptObject | Inert):
            stack.append(obj.state)
    return result


def _storage_ref(pid: tuple, *, legacy: bool) -> tuple[torch.dtype, str, int]:
    """('storage', type, key, location, numel[, view]) -> (dtype, key, numel), checked."""
    kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
    if kind != "storage" or len(pid) != (6 if legacy else 5):
        raise _Refused("has a malformed storage reference")
    storage_type, key, _location, numel = pid[1:5]
    if legacy and pid[5] is not None:
        raise _Refused("uses storage views (PyTorch < 0.4), not supported")
    if not isinstance(storage_type, _StorageType):
        raise _Refused("has a storage of an unknown type")
    if not isinstance(key, str) or not _is_int(numel) or numel < 0 or len(key) > 256:
        raise _Refused("has a malformed storage reference")
    return storage_type.dtype, key, numel


def _check_ratio(path: Path, info: zipfile.ZipInfo) -> None:
    if info.file_size > max(info.compress_size * MAX_RATIO, 1 << 20):
        raise UnsafeFileError(
            f"{path}: entry {info.filename[-60:]} inflates {info.compress_size} bytes to "
            f"{_mb(info.file_size)} (a decompression bomb?); refusing to read it"
        )


def _read_exactly(fh: BinaryIO, out: torch.Tensor) -> None:
    """Fill a uint8 tensor from ``fh``; a short file is an error."""
    view = memoryview(out.numpy()).cast("B")
    done = 0
    while done < len(view):
        n = fh.readinto(view[done:])
        if not n:
            raise EOFError(f"file ends {len(view) - done} bytes early")
        done += n


def _read_bytes(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise EOFError("file ends early")
    return data


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _int_tuple(value: object) -> bool:
    return isinstance(value, tuple | list | torch.Size) and all(_is_int(v) for v in value)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e5 else f"{n} bytes"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


def module_tensors(root: object, *, max_depth: int = 16, max_tensors: int = 100_000) -> dict:
    """The tensors of a TorchScript module tree by dotted attribute name, as
    ``state_dict()`` names them. Objects whose state is not an attribute dict are skipped."""
    out: dict[str, torch.Tensor] = {}

    def walk(obj: ScriptObject, prefix: str, depth: int) -> None:
        if depth > max_depth:
            raise CorruptCheckpointError("a TorchScript module tree nested too deeply")
        if not isinstance(obj.state, dict):
            return
        for name, value in obj.state.items():
            if not isinstance(name, str):
                continue
            if isinstance(value, torch.Tensor):
                out[prefix + name] = value
                if len(out) > max_tensors:
                    raise CorruptCheckpointError("a TorchScript archive with too many tensors")
            elif isinstance(value, ScriptObject):
                walk(value, f"{prefix}{name}.", depth + 1)

    if isinstance(root, ScriptObject):
        walk(root, "", 0)
    return out
