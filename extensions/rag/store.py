"""The persistent vector store: one SQLite file with float32 vectors and an FTS5 keyword index.

Why SQLite: it ships with Python (no new native dependency), writes are transactional
(a crash never leaves half a document), FTS5 gives BM25 keyword search for hybrid
retrieval, and at the sizes a personal document collection reaches (tens of thousands
of 384-dimensional chunks) an exact numpy dot product over the vectors takes
milliseconds, so an approximate index (FAISS, HNSW) would add a dependency and
recall loss for no gain.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backends.errors import StoreCorrupt

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, collection TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL,
    added REAL NOT NULL, chars INTEGER NOT NULL, chunks INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, content='chunks', content_rowid='id');
"""
#: Reciprocal-rank-fusion constant (the usual 60).
RRF_K = 60


@dataclass(frozen=True)
class DocumentRow:
    """A stored document."""

    id: str
    collection: str
    name: str
    file: str
    added: float
    chars: int
    chunks: int


@dataclass(frozen=True)
class Hit:
    """A retrieved passage and why."""

    chunk_id: int
    doc_id: str
    doc_name: str
    seq: int
    text: str
    similarity: float  # cosine similarity to the question
    score: float  # the fused rank score used for ordering


class VectorStore:
    """Documents, their chunks, vectors and keyword index in `path` (created when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(SCHEMA)
            self._check()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreCorrupt(f"the document index {path} is damaged ({exc}); rebuild it") from exc

    def _check(self) -> None:
        result = self._db.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {result}")
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"unknown schema version {row[0]!r}")

    def close(self) -> None:
        """Close the database file."""
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None

    def add(self, doc: DocumentRow, chunks: Sequence[tuple[int, int, str]], vectors: np.ndarray) -> None:
        """Store a document with its chunks `(start, end, text)` and their vectors, in one transaction."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        with self._lock, self._transaction() as db:
            db.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                (doc.id, doc.collection, doc.name, doc.file, doc.added, doc.chars, len(chunks)),
            )
            for seq, ((start, end, text), vector) in enumerate(zip(chunks, vectors, strict=True)):
                cursor = db.execute(
                    "INSERT INTO chunks (doc_id, seq, start, end, text, vector) VALUES (?, ?, ?, ?, ?, ?)",
                    (doc.id, seq, start, end, text, np.asarray(vector, dtype=np.float32).tobytes()),
                )
                db.execute("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)", (cursor.lastrowid, text))

    def delete(self, doc_id: str) -> bool:
        """Remove a document and its chunks; False if there was none."""
        with self._lock, self._transaction() as db:
            rows = db.execute("SELECT id, text FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
            for chunk_id, text in rows:
                db.execute("INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', ?, ?)", (chunk_id, text))
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            return db.execute("DELETE FROM documents WHERE id = ?", (doc_id,)).rowcount > 0

    def documents(self, collections: Sequence[str] | None = None) -> list[DocumentRow]:
        """Stored documents (of `collections`, or all), newest first."""
        query = "SELECT id, collection, name, file, added, chars, chunks FROM documents"
        args: tuple = ()
        if collections is not None:
            query += f" WHERE collection IN ({','.join('?' * len(collections))})"
            args = tuple(collections)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY added DESC", args).fetchall()
        return [DocumentRow(*row) for row in rows]

    def search(
        self, collections: Sequence[str], query_vector: np.ndarray, query_text: str, k: int, hybrid: bool = True
    ) -> list[Hit]:
        """The `k` best chunks of `collections`: cosine similarity, fused with BM25 ranks when `hybrid`."""
        marks = ",".join("?" * len(collections))
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.doc_id, d.name, c.seq, c.text, c.vector FROM chunks c "
                f"JOIN documents d ON d.id = c.doc_id WHERE d.collection IN ({marks})",
                tuple(collections),
            ).fetchall()
            keyword_ranks = self._keyword_ranks(query_text, collections, marks) if hybrid else {}
        if not rows:
            return []
        matrix = np.frombuffer(b"".join(row[5] for row in rows), dtype=np.float32).reshape(len(rows), -1)
        similarity = matrix @ np.asarray(query_vector, dtype=np.float32)
        order = np.argsort(-similarity)
        scores = np.zeros(len(rows))
        scores[order] = 1.0 / (RRF_K + 1 + np.arange(len(rows)))
        for index, row in enumerate(rows):
            rank = keyword_ranks.get(row[0])
            if rank is not None:
                scores[index] += 1.0 / (RRF_K + 1 + rank)
        best = np.argsort(-scores)[:k]
        return [
            Hit(rows[i][0], rows[i][1], rows[i][2], rows[i][3], rows[i][4], float(similarity[i]), float(scores[i]))
            for i in best
        ]

    def _keyword_ranks(self, query_text: str, collections: Sequence[str], marks: str) -> dict[int, int]:
        words = {word.lower() for word in re.findall(r"\w{2,}", query_text)}
        if not words:
            return {}
        match = " OR ".join(f'"{word}"' for word in sorted(words))
        rows = self._db.execute(
            "SELECT f.rowid FROM chunks_fts f JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.doc_id "
            f"WHERE chunks_fts MATCH ? AND d.collection IN ({marks}) ORDER BY bm25(chunks_fts) LIMIT 100",
            (match, *collections),
        ).fetchall()
        return {row[0]: rank for rank, row in enumerate(rows)}

    def chunk_count(self) -> int:
        """How many chunks are stored."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def now() -> float:
    """The current time, for `DocumentRow.added`."""
    return time.time()
