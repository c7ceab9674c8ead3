"""Describe a Hugging Face model folder from its small files, never loading the weights."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.errors import ModelLoadError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
#: A safetensors header larger than this is refused (the format caps it at 100 MB).
MAX_HEADER_BYTES = 100_000_000
#: config.json / tokenizer_config.json larger than this are refused.
MAX_JSON_BYTES = 50_000_000
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx")


@dataclass(frozen=True)
class FolderInfo:
    """What a Hugging Face folder says about its model."""

    weights_format: str  # "safetensors" or "pickle-only"
    architecture: str
    parameter_count: int | None  # None when only pickle weights exist (not read: unpickling runs code)
    quantization: str | None
    context_length: int | None
    has_chat_template: bool


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object; `ModelLoadError` naming the file otherwise."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ModelLoadError(f"{path.name}: larger than {MAX_JSON_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path.name}: cannot be read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path.name}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path.name}: expected a JSON object")
    return data


def safetensors_parameter_count(path: Path) -> int:
    """Sum of the tensor sizes declared in a safetensors header (8-byte length + JSON; weights unread)."""
    try:
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) != 8:
                raise ModelLoadError(f"{path.name}: too short to be a safetensors file")
            (length,) = struct.unpack("<Q", prefix)
            if length > MAX_HEADER_BYTES or length > path.stat().st_size - 8:
                raise ModelLoadError(f"{path.name}: corrupt safetensors header (claims {length} bytes)")
            header = json.loads(handle.read(length))
    except OSError as exc:
        raise ModelLoadError(f"{path.name}: cannot be read ({exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path.name}: corrupt safetensors header ({exc})") from exc
    if not isinstance(header, dict):
        raise ModelLoadError(f"{path.name}: corrupt safetensors header (not an object)")
    total = 0
    for name, tensor in header.items():
        if name == "__metadata__":
            continue
        shape = tensor.get("shape") if isinstance(tensor, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ModelLoadError(f"{path.name}: tensor {name!r} has no valid shape")
        total += math.prod(shape)
    return total


def _quantization(config: dict[str, Any]) -> str | None:
    quant = config.get("quantization_config")
    if isinstance(quant, dict):
        method = str(quant.get("quant_method") or "quantized")
        bits = quant.get("bits") or (4 if quant.get("load_in_4bit") else 8 if quant.get("load_in_8bit") else None)
        return f"{method} {bits}-bit" if bits else method
    dtype = config.get("torch_dtype") or config.get("dtype")
    return str(dtype) if isinstance(dtype, str) else None


def _context_length(config: dict[str, Any]) -> int | None:
    for source in (config, config.get("text_config")):
        if isinstance(source, dict):
            for key in _CONTEXT_KEYS:
                value = source.get(key)
                if isinstance(value, int) and value > 0:
                    return value
    return None


def _has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    tokenizer_config = folder / "tokenizer_config.json"
    if not tokenizer_config.is_file():
        return False
    try:
        return bool(read_json_object(tokenizer_config).get("chat_template"))
    except ModelLoadError:
        return False


def read_folder_info(folder: Path) -> FolderInfo:
    """Describe a Hugging Face folder; `ModelLoadError` with the reason when it is not a usable one."""
    config_path = folder / "config.json"
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    shards = [name for name in names if name.endswith(".safetensors")]
    pickles = [name for name in names if name.endswith(PICKLE_SUFFIXES)]
    if not config_path.is_file():
        raise ModelLoadError("no config.json: not a Hugging Face model folder")
    config = read_json_object(config_path)
    if not shards and not pickles:
        raise ModelLoadError("no weights (expected *.safetensors)")
    architectures = config.get("architectures")
    if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
        architecture = architectures[0]
    else:
        architecture = str(config.get("model_type") or "unknown")
    count = sum(safetensors_parameter_count(folder / name) for name in shards) if shards else None
    return FolderInfo(
        weights_format="safetensors" if shards else "pickle-only",
        architecture=architecture,
        parameter_count=count,
        quantization=_quantization(config),
        context_length=_context_length(config),
        has_chat_template=_has_chat_template(folder),
    )
