"""The RAG index: uploaded files kept under generated names, chunked, embedded and stored; retrieval."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from backends.errors import DocumentError, StoreCorrupt
from extensions.rag.chunking import chunk_text
from extensions.rag.documents import check_size, display_name, extract_text, suffix_of
from extensions.rag.embedder import Embedder
from extensions.rag.store import DocumentRow, Hit, VectorStore
from webui.storage import atomic_write_text, new_document_id

log = logging.getLogger(__name__)

SHARED = "shared"
_COLLECTION = re.compile(r"^(shared|chat-[0-9a-f]{20})$")
_DOC_ID = re.compile(r"^[0-9a-f]{20}$")


def chat_collection(chat_id: str | None) -> str | None:
    """The collection name of one chat (None for an unsaved chat)."""
    return f"chat-{chat_id}" if chat_id and re.fullmatch(r"[0-9a-f]{20}", chat_id) else None


@dataclass(frozen=True)
class IndexedDocument:
    """What an upload became."""

    id: str
    name: str
    collection: str
    chunks: int
    seconds: float


class RagIndex:
    """Everything under `folder` (user_data/rag/): `files/` (originals) and `index.sqlite3`."""

    def __init__(self, folder: Path, embedder: Embedder, chunk_tokens: int = 160, overlap: int = 32) -> None:
        self.folder = folder
        self.files = folder / "files"
        self.embedder = embedder
        self.chunk_tokens, self.overlap = chunk_tokens, overlap
        self._lock = threading.RLock()
        self._store: VectorStore | None = None
        #: Why the store could not be opened (then retrieval is off until `rebuild`).
        self.problem: str | None = None

    @property
    def db_path(self) -> Path:
        """The SQLite file."""
        return self.folder / "index.sqlite3"

    def store(self) -> VectorStore:
        """The open store; raises `StoreCorrupt` (and remembers why) when it is damaged."""
        with self._lock:
            if self._store is None:
                try:
                    self._store = VectorStore(self.db_path)
                    self.problem = None
                except StoreCorrupt as exc:
                    self.problem = str(exc)
                    raise
            return self._store

    def _guard(self, exc: sqlite3.DatabaseError) -> StoreCorrupt:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            self.problem = f"the document index {self.db_path} is damaged ({exc}); rebuild it"
        return StoreCorrupt(self.problem)

    def add(self, upload: Path, name: str, collection: str) -> IndexedDocument:
        """Validate, keep, parse, chunk, embed and store one upload; `DocumentError` on bad input."""
        if not _COLLECTION.match(collection):
            raise DocumentError(f"not a collection: {collection!r}")
        started = time.perf_counter()
        shown = display_name(name)
        suffix = suffix_of(name)
        check_size(upload, name)
        doc_id = new_document_id()
        self.files.mkdir(parents=True, exist_ok=True)
        kept = self.files / f"{doc_id}{suffix}"
        shutil.copyfile(upload, kept)
        try:
            row = self._index(kept, DocumentRow(doc_id, collection, shown, kept.name, time.time(), 0, 0))
        except BaseException:
            kept.unlink(missing_ok=True)
            raise
        atomic_write_text(kept.with_suffix(".json"), json.dumps({"name": shown, "collection": collection}))
        return IndexedDocument(doc_id, shown, collection, row.chunks, time.perf_counter() - started)

    def _index(self, kept: Path, row: DocumentRow) -> DocumentRow:
        text = extract_text(kept, kept.suffix, row.name)
        chunks = chunk_text(text, self.embedder.tokenizer, self.chunk_tokens, self.overlap)
        if not chunks:
            raise DocumentError(f"{row.name!r} contains no text")
        vectors = self.embedder.encode([c.text for c in chunks])
        row = DocumentRow(row.id, row.collection, row.name, row.file, row.added, len(text), len(chunks))
        try:
            self.store().add(row, [(c.start, c.end, c.text) for c in chunks], vectors)
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from exc
        return row

    def documents(self, collections: Sequence[str] | None = None) -> list[DocumentRow]:
        """Stored documents, newest first."""
        try:
            return self.store().documents(collections)
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from exc

    def delete(self, doc_id: str) -> bool:
        """Delete a document, its chunks and its kept file."""
        if not _DOC_ID.match(doc_id or ""):
            raise DocumentError(f"not a document id: {doc_id!r}")
        try:
            found = self.store().delete(doc_id)
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from exc
        for path in self.files.glob(f"{doc_id}.*"):
            path.unlink(missing_ok=True)
        return found

    def search(self, question: str, collections: Sequence[str], k: int = 4, hybrid: bool = True) -> list[Hit]:
        """The `k` passages of `collections` that best answer `question`."""
        store = self.store()
        try:
            if not store.documents(collections):
                return []
            vector = self.embedder.encode([question])[0]
            return store.search(collections, vector, question, k, hybrid)
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from exc

    def rebuild(self) -> list[str]:
        """Set the damaged index aside and index every kept file again; return the files that failed."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            if self.db_path.exists():
                aside = self.db_path.with_name(f"index.sqlite3.damaged-{int(time.time())}")
                self.db_path.replace(aside)
                log.warning("RAG: the damaged index was moved to %s", aside)
            for extra in ("-wal", "-shm", "-journal"):
                self.db_path.with_name(self.db_path.name + extra).unlink(missing_ok=True)
            self.problem = None
            failed = []
            for meta in sorted(self.files.glob("*.json")) if self.files.is_dir() else []:
                kept = next((p for p in self.files.glob(f"{meta.stem}.*") if p.suffix != ".json"), None)
                try:
                    info = json.loads(meta.read_text(encoding="utf-8"))
                    if kept is None or not _DOC_ID.match(meta.stem):
                        raise DocumentError("its file is missing")
                    added = meta.stat().st_mtime
                    row = DocumentRow(meta.stem, info["collection"], info["name"], kept.name, added, 0, 0)
                    self._index(kept, row)
                except (DocumentError, ValueError, KeyError, OSError) as exc:
                    failed.append(f"{meta.stem}: {exc}")
            return failed
