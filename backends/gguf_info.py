"""Read a GGUF file's metadata without loading its weights, and check it is whole."""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf.constants import GGML_QUANT_SIZES

from backends.errors import ModelLoadError, ModelNotFound

GGUF_MAGIC = b"GGUF"

# llama.cpp's `general.file_type` values (LLAMA_FTYPE_*) for the common quantizations.
_FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
}


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF file says about its model."""

    path: Path
    size_bytes: int
    architecture: str
    name: str
    context_length: int | None
    chat_template: str | None
    quantization: str | None
    parameter_count: int
    bos_token: str
    eos_token: str
    add_bos: bool
    split_index: int | None = None  # 0-based part number of a split set (`split.no`), None if not split
    split_count: int | None = None  # how many parts the set has (`split.count`)


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
#: Arrays longer than this are skipped, not kept (token lists, merges).
_KEEP_ARRAY_MAX = 64
#: Sanity bounds that stop a hostile header from making us allocate or loop forever.
_MAX_COUNT = 1 << 32
_MAX_STRING = 1 << 28


class _HeaderScanner:
    """Walks a GGUF header in a memory map without materialising large arrays."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ValueError("unexpected end of file inside the header")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        length = self.unpack("<Q")
        if length > _MAX_STRING or self.pos + length > len(self.data):
            raise ValueError("a string runs past the end of the file")
        text = bytes(self.data[self.pos : self.pos + length]).decode("utf-8", errors="replace")
        self.pos += length
        return text

    def skip_string(self) -> None:
        length = self.unpack("<Q")
        self.pos += length
        if length > _MAX_STRING or self.pos > len(self.data):
            raise ValueError("a string runs past the end of the file")

    def value(self, value_type: int) -> Any:
        if value_type in _SCALARS:
            return self.unpack(_SCALARS[value_type])
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            item_type = self.unpack("<I")
            count = self.unpack("<Q")
            if count > _MAX_COUNT:
                raise ValueError(f"an array claims {count} items")
            if count <= _KEEP_ARRAY_MAX:
                return [self.value(item_type) for _ in range(count)]
            return _SkippedArray(self.skip_array(item_type, count), item_type, count)
        raise ValueError(f"unknown metadata value type {value_type}")

    def skip_array(self, item_type: int, count: int) -> int:
        """Skip `count` items; return where they started."""
        start = self.pos
        if item_type in _SCALARS:
            self.pos += struct.calcsize(_SCALARS[item_type]) * count
            if self.pos > len(self.data):
                raise ValueError("an array runs past the end of the file")
        elif item_type == _STRING:
            for _ in range(count):
                self.skip_string()
        else:
            for _ in range(count):
                self.value(item_type)
        return start


@dataclass(frozen=True)
class _SkippedArray:
    offset: int
    item_type: int
    count: int


def _string_at(data: mmap.mmap, array: _SkippedArray, index: int) -> str:
    """The `index`-th string of a skipped string array."""
    if array.item_type != _STRING or not 0 <= index < array.count:
        return ""
    scanner = _HeaderScanner(data)
    scanner.pos = array.offset
    for _ in range(index):
        scanner.skip_string()
    return scanner.string()


def _parse(path: Path, data: mmap.mmap, size: int) -> GGUFInfo:
    scanner = _HeaderScanner(data)
    scanner.pos = 4
    version = scanner.unpack("<I")
    if version not in (2, 3):
        raise ValueError(f"unsupported GGUF version {version}")
    n_tensors = scanner.unpack("<Q")
    n_kv = scanner.unpack("<Q")
    if n_tensors > _MAX_COUNT or n_kv > _MAX_COUNT:
        raise ValueError("the header claims an impossible number of entries")
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = scanner.string()
        meta[key] = scanner.value(scanner.unpack("<I"))

    parameter_count = 0
    extents: list[tuple[str, int, int | None]] = []
    for _ in range(n_tensors):
        name = scanner.string()
        n_dims = scanner.unpack("<I")
        if n_dims > 8:
            raise ValueError(f"tensor {name!r} claims {n_dims} dimensions")
        elements = 1
        for _ in range(n_dims):
            elements *= scanner.unpack("<Q")
        tensor_type = scanner.unpack("<I")
        offset = scanner.unpack("<Q")
        parameter_count += elements
        block, type_size = GGML_QUANT_SIZES.get(tensor_type, (0, 0))
        n_bytes = elements // block * type_size if block else None
        extents.append((name, offset, n_bytes))

    alignment = int(meta.get("general.alignment", 32) or 32)
    data_start = -(-scanner.pos // alignment) * alignment
    for name, offset, n_bytes in extents:
        end = data_start + offset + (n_bytes or 0)
        if end > size:
            raise _Truncated(f"tensor {name!r} ends at byte {end}, but the file has only {size} bytes")

    architecture = str(meta.get("general.architecture", "unknown"))
    context = meta.get(f"{architecture}.context_length")
    file_type = meta.get("general.file_type")
    template = meta.get("tokenizer.chat_template")
    tokens = meta.get("tokenizer.ggml.tokens")

    def token_text(key: str) -> str:
        token_id = meta.get(key)
        if not isinstance(tokens, _SkippedArray) or not isinstance(token_id, int):
            return ""
        return _string_at(data, tokens, token_id)

    return GGUFInfo(
        path=path,
        size_bytes=size,
        architecture=architecture,
        name=str(meta.get("general.name") or path.stem),
        context_length=int(context) if isinstance(context, int) else None,
        chat_template=str(template) if isinstance(template, str) and template else None,
        quantization=_FILE_TYPES.get(file_type) if isinstance(file_type, int) else None,
        parameter_count=parameter_count,
        bos_token=token_text("tokenizer.ggml.bos_token_id"),
        eos_token=token_text("tokenizer.ggml.eos_token_id"),
        add_bos=bool(meta.get("tokenizer.ggml.add_bos_token", False)),
        split_index=int(meta["split.no"]) if isinstance(meta.get("split.no"), int) else None,
        split_count=int(meta["split.count"]) if isinstance(meta.get("split.count"), int) else None,
    )


class _Truncated(ValueError):
    pass


def check_model_file(path: Path) -> None:
    """Raise a clear error when `path` is missing, empty or not a GGUF file."""
    if not path.exists():
        raise ModelNotFound(f"{path}: no such file")
    if not path.is_file():
        raise ModelLoadError(f"{path}: not a file")
    size = path.stat().st_size
    if size == 0:
        raise ModelLoadError(f"{path}: the file is empty (0 bytes)")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise ModelLoadError(f"{path}: not a GGUF file (it starts with {magic!r}, not b'GGUF')")


def read_gguf_info(path: Path) -> GGUFInfo:
    """Parse the header of the GGUF file at `path` (fast: weights are not read).

    Raises `ModelNotFound` or `ModelLoadError` naming the file and the reason
    when it is missing, empty, not GGUF, corrupt or truncated.
    """
    path = Path(path)
    check_model_file(path)
    size = path.stat().st_size
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            return _parse(path, data, size)
        except _Truncated as exc:
            raise ModelLoadError(f"{path}: truncated GGUF file: {exc}") from exc
        except (ValueError, struct.error, OverflowError) as exc:
            raise ModelLoadError(f"{path}: corrupt or truncated GGUF file: {exc}") from exc
