"""Atomic, validated JSON documents in a folder: saved chats and notebooks.

File names are generated ids, never user-chosen names, so a name typed by a
user can never become a path. Every write goes to a temporary file that is
fsynced and then renamed over the old one: a crash mid-save leaves the previous
version intact, never a truncated or empty file.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from backends.errors import InvalidRequest
from webui.settings import describe_validation_error

_ID_PATTERN = re.compile(r"^[0-9a-f]{20}$")
#: The longest display name a user may give a document.
MAX_NAME_LENGTH = 120


def new_document_id() -> str:
    """A sortable, unguessable document id: 8 hex digits of time, 12 of randomness."""
    return f"{int(time.time()):08x}{secrets.token_hex(6)}"


def check_document_id(doc_id: str) -> str:
    """Return `doc_id` if it is a well-formed id; otherwise raise `InvalidRequest`."""
    if not isinstance(doc_id, str) or not _ID_PATTERN.match(doc_id):
        raise InvalidRequest(f"not a valid document id: {doc_id!r}")
    return doc_id


def clean_name(name: str) -> str:
    """A display name: control characters removed, whitespace collapsed, length checked."""
    text = "".join(ch if ch.isprintable() else " " if ch.isspace() else "" for ch in str(name))
    text = " ".join(text.split())
    if not text:
        raise InvalidRequest("the name is empty")
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidRequest(f"the name is longer than {MAX_NAME_LENGTH} characters")
    return text


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


Document = TypeVar("Document", bound=BaseModel)


@dataclass(frozen=True)
class Listing:
    """One file of a store as the sidebar shows it."""

    doc_id: str
    name: str
    updated: float
    error: str | None = None  # set when the file is unreadable; it is then skipped


class JsonStore(Generic[Document]):
    """Documents of one pydantic type, one JSON file each, named by id."""

    def __init__(self, folder: Path, model: type[Document], name_of: Callable[[Document], str]) -> None:
        self.folder = folder
        self.model = model
        self._name_of = name_of

    def path_for(self, doc_id: str) -> Path:
        """The file of `doc_id` (validated: always inside the folder)."""
        return self.folder / f"{check_document_id(doc_id)}.json"

    def save(self, doc_id: str, document: Document) -> None:
        """Write `document` atomically."""
        atomic_write_text(self.path_for(doc_id), document.model_dump_json(indent=1))

    def load(self, doc_id: str) -> Document:
        """Read and validate one document; raise `InvalidRequest` saying what is wrong."""
        path = self.path_for(doc_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InvalidRequest(f"no saved document {doc_id}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"{path.name} cannot be read: {exc}") from exc
        return self.parse(text, source=path.name)

    def parse(self, text: str | bytes, source: str) -> Document:
        """Validate JSON text as a document; raise `InvalidRequest` naming `source`."""
        if not text or not text.strip():
            raise InvalidRequest(f"{source} is empty")
        try:
            return self.model.model_validate_json(text)
        except ValidationError as exc:
            raise InvalidRequest(describe_validation_error(f"{source} is not a valid document", exc)) from exc

    def delete(self, doc_id: str) -> None:
        """Remove a document (no error if it is already gone)."""
        self.path_for(doc_id).unlink(missing_ok=True)

    def listing(self) -> list[Listing]:
        """Every document, newest first; unreadable files are listed with their error."""
        if not self.folder.is_dir():
            return []
        entries = []
        for path in self.folder.glob("*.json"):
            doc_id = path.stem
            if not _ID_PATTERN.match(doc_id) or path.is_symlink():
                continue
            updated = path.stat().st_mtime
            try:
                document = self.parse(path.read_bytes(), source=path.name)
            except (InvalidRequest, OSError) as exc:
                entries.append(Listing(doc_id, path.name, updated, error=str(exc)))
                continue
            entries.append(Listing(doc_id, self._name_of(document), updated))
        return sorted(entries, key=lambda e: (e.updated, e.doc_id), reverse=True)
