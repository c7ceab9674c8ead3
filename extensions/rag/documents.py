"""Uploaded documents -> plain text: .txt, .md, .pdf (pypdf), .html (BeautifulSoup), .docx (python-docx)."""

from __future__ import annotations

from pathlib import Path, PureWindowsPath

from backends.errors import DocumentError

#: The largest upload accepted, in bytes.
MAX_BYTES = 50 * 1024 * 1024
SUPPORTED = (".txt", ".md", ".pdf", ".html", ".htm", ".docx")
MAX_NAME = 120


def display_name(name: str) -> str:
    """A safe name to show: the last path component, control characters removed (never used as a path)."""
    base = PureWindowsPath(str(name).replace("\x00", "")).name  # handles both / and \\
    base = "".join(ch for ch in base if ch.isprintable()).strip(" .")
    return base[:MAX_NAME] or "document"


def suffix_of(name: str) -> str:
    """The lower-case file type of `name`; `DocumentError` when it is not supported."""
    suffix = Path(display_name(name)).suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentError(
            f"{display_name(name)!r}: unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUPPORTED)}"
        )
    return suffix


def check_size(path: Path, name: str) -> int:
    """The size of the upload at `path`; `DocumentError` when it is empty or over `MAX_BYTES`."""
    size = path.stat().st_size
    if size == 0:
        raise DocumentError(f"{display_name(name)!r} is empty")
    if size > MAX_BYTES:
        raise DocumentError(f"{display_name(name)!r} is {size / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB")
    return size


def extract_text(path: Path, suffix: str, name: str) -> str:
    """The text of the document at `path` (of type `suffix`); `DocumentError` if there is none or it is unreadable."""
    shown = display_name(name)
    if suffix in (".txt", ".md"):
        data = path.read_bytes()
        if b"\x00" in data:
            raise DocumentError(f"{shown!r} looks like a binary file, not text")
        text = data.decode("utf-8-sig", errors="replace")
    elif suffix == ".pdf":
        text = _pdf_text(path, shown)
    elif suffix in (".html", ".htm"):
        text = _html_text(path.read_bytes())
    elif suffix == ".docx":
        text = _docx_text(path, shown)
    else:
        raise DocumentError(f"{shown!r}: unsupported file type {suffix!r}")
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").splitlines()).strip()
    if not text:
        raise DocumentError(f"{shown!r} contains no text")
    return text


def _pdf_text(path: Path, shown: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise DocumentError(f"{shown!r} is an encrypted PDF; remove the password and upload it again")
        return "\n\n".join(page.extract_text() or "" for page in reader.pages)
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise DocumentError(f"{shown!r} is not a readable PDF ({type(exc).__name__}: {exc})") from exc


def _html_text(data: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    return soup.get_text("\n")


def _docx_text(path: Path, shown: str) -> str:
    import zipfile

    import docx
    from docx.opc.exceptions import OpcError

    try:
        document = docx.Document(str(path))
    except (OpcError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DocumentError(f"{shown!r} is not a readable .docx file ({type(exc).__name__})") from exc
    paragraphs = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(paragraphs)
