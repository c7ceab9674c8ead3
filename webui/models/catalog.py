"""The model catalog: every model in the models folder, plus the bundled one, described without loading weights.

What is listed:
- single GGUF files (`name.gguf`), at the top of the folder or one folder down;
- split GGUF sets (`name-00001-of-00003.gguf` ...): one entry, size = the sum of the parts,
  unreadable (with the missing part numbers) unless every part is there;
- Hugging Face folders (`config.json` + `*.safetensors`, or pickle-only `*.bin`);
- the bundled SmolLM2-135M (id `bundled`).

Dot-entries (`.downloads/`, the downloader's staging area) are skipped. Unreadable entries
(truncated or non-GGUF files, a broken config.json, loose weight files) are listed with the
reason, never hidden. A model is loaded by its id, which must be one the scan produced: a user
string is looked up, never turned into a path. Symbolic links are followed only when they point
inside the models folder; one pointing outside is listed as refused and cannot be loaded.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

from backends.errors import AppError, ModelLoadError, ModelNotFound
from backends.gguf_info import read_gguf_info
from backends.loader import bundled_model_path
from webui.models.hf_info import PICKLE_SUFFIXES, read_folder_info

BUNDLED_ID = "bundled"
SPLIT_PATTERN = re.compile(r"^(?P<base>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
_LOOSE_WEIGHTS = (".safetensors", *PICKLE_SUFFIXES)
#: The longest model id accepted for a look-up.
MAX_ID_LENGTH = 1000


@dataclass(frozen=True)
class ModelEntry:
    """One model as the Models tab lists it; `error` is set when it cannot be loaded."""

    model_id: str
    name: str
    path: Path  # what a loader opens: the GGUF file (first part of a split set) or the folder
    format: str  # "gguf", "safetensors", "pickle-only" or "unknown"
    size_bytes: int
    architecture: str | None = None
    parameter_count: int | None = None
    quantization: str | None = None
    context_length: int | None = None
    has_chat_template: bool | None = None
    parts: int = 1
    error: str | None = None

    @property
    def readable(self) -> bool:
        """Whether the entry can be loaded."""
        return self.error is None

    @property
    def default_loader(self) -> str:
        """The loader detected from the format: GGUF -> llama.cpp, folders -> transformers."""
        return "llama.cpp" if self.format == "gguf" else "transformers"


def _size(path: Path) -> int:
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    except OSError:
        return 0


def gguf_entry(model_id: str, name: str, path: Path, in_set: bool = False) -> ModelEntry:
    """A single GGUF file (or, with `in_set`, the first part of a split set), read from its header."""
    try:
        info = read_gguf_info(path)
    except AppError as exc:
        return ModelEntry(model_id, name, path, "gguf", _size(path), error=_reason(exc, path))
    error = None
    if info.split_count and info.split_count > 1 and not in_set:
        error = f"part {(info.split_index or 0) + 1} of a {info.split_count}-part split set, renamed: load the set"
    return ModelEntry(
        model_id,
        name,
        path,
        "gguf",
        info.size_bytes,
        architecture=info.architecture,
        parameter_count=info.parameter_count,
        quantization=info.quantization,
        context_length=info.context_length,
        has_chat_template=info.chat_template is not None,
        error=error,
    )


def split_entry(model_id: str, name: str, parts: dict[int, Path], count: int) -> ModelEntry:
    """A split GGUF set: described by its first part, counted over all parts, unreadable if one is missing."""
    first = parts.get(1)
    size = sum(_size(path) for path in parts.values())
    missing = [str(index) for index in range(1, count + 1) if index not in parts]
    path = first or next(iter(parts.values()))
    if missing:
        error = f"incomplete split set: part {', '.join(missing)} of {count} missing"
        return ModelEntry(model_id, name, path, "gguf", size, parts=count, error=error)
    entry = gguf_entry(model_id, name, path, in_set=True)
    if entry.error:
        return replace(entry, size_bytes=size, parts=count)
    total = 0
    for index in range(1, count + 1):
        try:
            info = read_gguf_info(parts[index])
        except AppError as exc:
            return replace(entry, size_bytes=size, parts=count, error=f"part {index}: {_reason(exc, parts[index])}")
        if info.split_count not in (None, count):
            error = f"part {index} says the set has {info.split_count} parts, its name says {count}"
            return replace(entry, size_bytes=size, parts=count, error=error)
        total += info.parameter_count
    return replace(entry, size_bytes=size, parts=count, parameter_count=total, error=None)


def folder_entry(model_id: str, path: Path) -> ModelEntry:
    """A Hugging Face folder, read from config.json and the safetensors headers."""
    try:
        info = read_folder_info(path)
    except AppError as exc:
        fmt = "safetensors" if any(path.glob("*.safetensors")) else "unknown"
        return ModelEntry(model_id, model_id, path, fmt, _size(path), error=str(exc))
    return ModelEntry(
        model_id,
        model_id,
        path,
        info.weights_format,
        _size(path),
        architecture=info.architecture,
        parameter_count=info.parameter_count,
        quantization=info.quantization,
        context_length=info.context_length,
        has_chat_template=info.has_chat_template,
    )


def _reason(exc: Exception, path: Path) -> str:
    """The error text without the absolute path prefix the readers put in front."""
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _is_hf_folder(path: Path) -> bool:
    return (path / "config.json").exists() or any(path.glob("*.safetensors"))


class ModelCatalog:
    """Scans a models folder. Every call rescans, so files added by hand appear at once."""

    def __init__(self, models_dir: Path, include_bundled: bool = True) -> None:
        self.models_dir = Path(models_dir)
        self.include_bundled = include_bundled

    def scan(self) -> list[ModelEntry]:
        """Every model: the bundled one first, then the folder's, sorted by id."""
        entries: list[ModelEntry] = []
        if self.include_bundled:
            try:
                path = bundled_model_path()
                entries.append(gguf_entry(BUNDLED_ID, f"{path.name} (bundled)", path))
            except ModelNotFound:
                pass
        if self.models_dir.is_dir():
            entries.extend(sorted(self._scan_folder(self.models_dir, "", top=True), key=lambda e: e.model_id.lower()))
        return entries

    def _scan_folder(self, folder: Path, prefix: str, top: bool) -> list[ModelEntry]:
        root = self.models_dir.resolve()
        entries: list[ModelEntry] = []
        ggufs: list[Path] = []
        try:
            children = sorted(folder.iterdir())
        except OSError:
            return entries
        for child in children:
            if child.name.startswith("."):
                continue
            rel = prefix + child.name
            if child.is_symlink() and not child.resolve().is_relative_to(root):
                refused = "symbolic link pointing outside the models folder: refused (move or copy the model here)"
                entries.append(ModelEntry(rel, rel, child, "unknown", 0, error=refused))
            elif child.is_file() and child.suffix.lower() == ".gguf":
                ggufs.append(child)
            elif child.is_file() and child.suffix.lower() in _LOOSE_WEIGHTS and top:
                error = "a loose weights file: put it in a folder with its config.json and tokenizer files"
                entries.append(ModelEntry(rel, rel, child, "unknown", _size(child), error=error))
            elif child.is_dir() and _is_hf_folder(child):
                entries.append(folder_entry(rel, child))
            elif child.is_dir() and top:
                entries.extend(self._scan_folder(child, rel + "/", top=False))
        return entries + self._gguf_entries(ggufs, prefix)

    @staticmethod
    def _gguf_entries(files: list[Path], prefix: str) -> list[ModelEntry]:
        entries = []
        sets: dict[tuple[str, int], dict[int, Path]] = defaultdict(dict)
        for path in files:
            match = SPLIT_PATTERN.match(path.name)
            if match and int(match["count"]) > 1 and 1 <= int(match["index"]) <= int(match["count"]):
                sets[(match["base"], int(match["count"]))][int(match["index"])] = path
            else:
                entries.append(gguf_entry(prefix + path.name, prefix + path.name, path))
        for (base, count), parts in sets.items():
            first = parts.get(1)
            model_id = prefix + (first.name if first else f"{base}-00001-of-{count:05d}.gguf")
            entries.append(split_entry(model_id, f"{prefix}{base} ({count} parts)", parts, count))
        return entries

    def find(self, model_id: str) -> ModelEntry:
        """The entry with this id (or display name); `ModelNotFound` listing what exists otherwise."""
        if not isinstance(model_id, str) or not model_id or len(model_id) > MAX_ID_LENGTH:
            raise ModelNotFound(f"no model named {str(model_id)[:80]!r}")
        entries = self.scan()
        for entry in entries:
            if model_id in (entry.model_id, entry.name):
                return entry
        names = ", ".join(entry.model_id for entry in entries) or "none"
        raise ModelNotFound(f"no model named {model_id!r} in {self.models_dir} (available: {names})")

    def loadable(self, model_id: str) -> ModelEntry:
        """Like `find`, but an unreadable entry is a `ModelLoadError` with its reason."""
        entry = self.find(model_id)
        if entry.error:
            raise ModelLoadError(f"{entry.name}: {entry.error}")
        return entry

    def entry_for_path(self, path: Path) -> ModelEntry | None:
        """The listed entry a file or folder path points to, if any (the entry of that very path first)."""
        try:
            given, target = Path(path).absolute(), Path(path).resolve()
            entries = self.scan()
            exact = [entry for entry in entries if entry.path.absolute() == given]
            same = [entry for entry in entries if entry.readable and entry.path.resolve() == target]
        except OSError:
            return None
        return (exact or same or [None])[0]
