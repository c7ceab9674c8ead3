"""The RAG extension: parsing, bad input, chunking, the store, and answers from the bundled model."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest

from backends.errors import DocumentError, StoreCorrupt
from backends.sampling import GREEDY
from extensions.rag.chunking import chunk_text
from extensions.rag.documents import MAX_BYTES, display_name, extract_text
from extensions.rag.embedder import Embedder, bundled_model_dir
from extensions.rag.index import SHARED, RagIndex, chat_collection
from extensions.rag.store import DocumentRow, VectorStore
from tests.rag_helpers import FACT, NOTES, make_pdf, write
from webui.chat.conversation import Message
from webui.chat.engine import ChatEngine
from webui.extensions.manager import ExtensionManager
from webui.model_manager import ModelManager

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_each_supported_type_gives_its_text(tmp_path: Path) -> None:
    import docx

    assert "Tuesday" in extract_text(write(tmp_path / "a.md", NOTES), ".md", "a.md")
    page = "<html><head><style>p{}</style><script>var x;</script></head><body><p>Hello <b>there</b></p></body></html>"
    html_text = extract_text(write(tmp_path / "a.html", page), ".html", "a.html")
    assert "Hello" in html_text and "there" in html_text and "var x" not in html_text
    assert "codename is BLUE-HERON-42." in extract_text(write(tmp_path / "a.pdf", make_pdf(FACT)), ".pdf", "a.pdf")
    document = docx.Document()
    document.add_paragraph(FACT)
    document.save(tmp_path / "a.docx")
    assert FACT in extract_text(tmp_path / "a.docx", ".docx", "a.docx")


def test_bad_uploads_are_refused_clearly_and_nothing_is_kept(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    index = RagIndex(tmp_path / "user_data" / "rag", Embedder())
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(FACT))))
    writer.encrypt("secret")
    encrypted = io.BytesIO()
    writer.write(encrypted)
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    cases = [
        (write(tmp_path / "e.txt", ""), "e.txt", "is empty"),
        (write(tmp_path / "blank.md", "  \n\n "), "blank.md", "contains no text"),
        (write(tmp_path / "x.exe", "MZ"), "x.exe", "unsupported file type '.exe'"),
        (write(tmp_path / "noext", "text"), "noext", r"unsupported file type '\(none\)'"),
        (write(tmp_path / "bin.txt", b"ab\x00\x01"), "bin.txt", "binary"),
        (write(tmp_path / "enc.pdf", encrypted.getvalue()), "enc.pdf", "encrypted PDF"),
        (write(tmp_path / "bad.pdf", b"%PDF-1.4\ngarbage"), "bad.pdf", "not a readable PDF"),
        (write(tmp_path / "bad.docx", b"PK\x03\x04 not a zip"), "bad.docx", "not a readable .docx"),
        (big, "big.txt", "the limit is 50 MB"),
    ]
    for path, name, message in cases:
        with pytest.raises(DocumentError, match=message):
            index.add(path, name, SHARED)
    with pytest.raises(DocumentError, match="not a collection"):
        index.add(tmp_path / "e.txt", "e.txt", "../../etc")
    assert not any((tmp_path / "user_data" / "rag" / "files").glob("*"))


def test_hostile_names_are_only_shown_never_used_as_paths() -> None:
    assert display_name("../../x.txt") == "x.txt"
    assert display_name("..\\..\\evil.md") == "evil.md"
    assert display_name("a\x00b.txt") == "ab.txt"
    assert display_name("/etc/passwd") == "passwd"
    assert display_name("..") == "document"
    assert chat_collection("../x") is None and chat_collection("0123456789abcdef0123") == "chat-0123456789abcdef0123"


def test_store_hybrid_search_and_delete(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "index.sqlite3")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = ["apples are red", "the sky is blue", "zebra crossing rules"]
    store.add(DocumentRow("a" * 20, SHARED, "a.txt", "a.txt", 1.0, 10, 0), [(0, 1, t) for t in texts], vectors)
    store.add(DocumentRow("b" * 20, "chat-" + "c" * 20, "b.txt", "b.txt", 2.0, 5, 0), [(0, 1, "blue")], vectors[:1])
    hits = store.search([SHARED], vectors[1], "sky", k=2)
    assert hits[0].text == "the sky is blue" and hits[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert store.search([SHARED], vectors[0], "zebra", k=3, hybrid=False)[0].text == "apples are red"
    assert store.search([SHARED], vectors[0], "zebra", k=3)[0].text == "zebra crossing rules"  # BM25 lifts it
    assert all(h.doc_id == "a" * 20 for h in store.search([SHARED], vectors[0], "blue", k=5))
    assert store.delete("a" * 20) and not store.delete("a" * 20)
    assert store.search([SHARED], vectors[0], "sky", k=3) == []
    assert [d.name for d in store.documents()] == ["b.txt"]


@pytest.mark.slow
def test_chunks_are_token_sized_overlapping_and_cover_the_text(embedder: Embedder) -> None:
    text = "\n".join(f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(200))
    chunks = chunk_text(text, embedder.tokenizer, max_tokens=64, overlap=16)
    assert len(chunks) > 10
    assert all(embedder.count_tokens(c.text) <= 64 for c in chunks)
    assert all(text[c.start : c.end].strip() == c.text for c in chunks)
    assert all(b.start < a.end for a, b in itertools.pairwise(chunks))  # overlap
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert bundled_model_dir().is_dir()


@pytest.mark.slow
def test_hostile_upload_names_are_stored_under_generated_names(tmp_path: Path, embedder: Embedder) -> None:
    data = tmp_path / "user_data"
    index = RagIndex(data / "rag", embedder)
    for name in ["../../x.txt", "a\x00b.md", "/tmp/evil.txt"]:
        upload = write(tmp_path / "upload" / "doc.txt", NOTES)
        done = index.add(upload, name, SHARED)
        assert "/" not in done.name and "\x00" not in done.name
    kept = sorted(p.name for p in (data / "rag" / "files").iterdir())
    assert len(kept) == 6 and all(p.split(".")[0].isalnum() and len(p.split(".")[0]) == 20 for p in kept)
    assert not (tmp_path / "x.txt").exists() and not Path("/tmp/evil.txt").exists()
    assert sorted(d.name for d in index.documents()) == ["ab.md", "evil.txt", "x.txt"]


def ask(engine: ChatEngine, question: str, chat_id: str | None = None) -> tuple[str, list[str]]:
    reply = engine.reply(
        [Message(role="user", content=question)],
        GREEDY.model_copy(update={"max_new_tokens": 48}),
        state={"chat_id": chat_id},
    )
    list(reply)
    return reply.message().content, reply.extension_errors


@pytest.fixture(scope="module")
def models(model_path: Path) -> ModelManager:
    manager = ModelManager()
    manager.load(model_path)
    yield manager
    manager.unload()


@pytest.mark.slow
def test_bundled_model_answers_from_an_indexed_document_even_after_a_restart(tmp_path: Path, models) -> None:
    data = tmp_path / "user_data"
    extensions = ExtensionManager(REPO / "extensions", data)
    extensions.enable("rag")
    engine = ChatEngine(models, "You are a helpful assistant.", extensions)
    question = "What is the project's codename?"
    without, _ = ask(ChatEngine(models, "You are a helpful assistant."), question)
    assert "BLUE-HERON-42" not in without  # the model cannot know it
    index = extensions.get("rag").owner.index
    index.add(write(tmp_path / "notes.md", NOTES), "notes.md", SHARED)
    answer, errors = ask(engine, question)
    assert errors == []
    assert "BLUE-HERON-42" in answer
    assert "📚 Sources: notes.md" in answer and "codename is BLUE-HERON-42" in answer.split("<details", 1)[1]

    restarted = ExtensionManager(REPO / "extensions", data)  # a new app over the same user_data
    restarted.enable("rag")
    answer, errors = ask(ChatEngine(models, "You are a helpful assistant.", restarted), question)
    assert "BLUE-HERON-42" in answer and "Sources: notes.md" in answer and errors == []

    chat_only = "0123456789abcdef0123"
    index2 = restarted.get("rag").owner.index
    pet = write(tmp_path / "pet.txt", "The office cat is called Marmalade.")
    index2.add(pet, "pet.txt", chat_collection(chat_only))
    assert [h.doc_name for h in index2.search("office cat name", [SHARED], 4)] == ["notes.md"]  # not in shared
    assert "pet.txt" in [h.doc_name for h in index2.search("office cat name", [SHARED, chat_collection(chat_only)], 4)]


@pytest.mark.slow
def test_corrupt_store_is_reported_rebuilt_and_chat_goes_on(tmp_path: Path, models) -> None:
    data = tmp_path / "user_data"
    extensions = ExtensionManager(REPO / "extensions", data)
    extensions.enable("rag")
    index = extensions.get("rag").owner.index
    index.add(write(tmp_path / "notes.md", NOTES), "notes.md", SHARED)
    index.store().close()
    index._store = None
    index.db_path.write_bytes(b"this is not a database" * 100)

    restarted = ExtensionManager(REPO / "extensions", data)
    restarted.enable("rag")  # enabling works; the damage is reported
    rag = restarted.get("rag").owner
    assert rag.index.problem and "damaged" in rag.index.problem
    with pytest.raises(StoreCorrupt):
        rag.index.documents()
    answer, errors = ask(ChatEngine(models, "You are a helpful assistant.", restarted), "Say hello.")
    assert answer.strip() and "Sources" not in answer  # the chat still works
    assert len(errors) == 1 and "'rag', input_modifier: StoreCorrupt" in errors[0] and "rebuild" in errors[0]
    assert "Rebuild index" in rag._status()

    assert rag.index.rebuild() == []
    assert [d.name for d in rag.index.documents()] == ["notes.md"]
    assert list((data / "rag").glob("index.sqlite3.damaged-*"))
    engine = ChatEngine(models, "You are a helpful assistant.", restarted)
    answer, errors = ask(engine, "What is the project's codename?")
    assert "BLUE-HERON-42" in answer and errors == []


def test_rag_offers_a_document_search_tool_to_tool_use(tmp_path: Path) -> None:
    from webui.tools.registry import ToolRegistry
    from webui.tools.runner import run_tool

    extensions = ExtensionManager(REPO / "extensions", tmp_path / "user_data")
    extensions.enable("rag")
    registry = ToolRegistry()
    [tool] = registry.register_many(extensions.tools(), "extensions")
    assert tool.name == "search_documents"
    assert set(tool.parameters["properties"]) == {"query", "top_k"}
    assert "No documents" in run_tool(tool, {"query": "codename"}).content
    index = extensions.get("rag").owner.index
    index.add(write(tmp_path / "notes.md", NOTES), "notes.md", SHARED)
    index.add(write(tmp_path / "pet.txt", "The office cat is called Marmalade."), "pet.txt", chat_collection("0" * 20))
    found = run_tool(tool, {"query": "What is the project's codename?", "top_k": 1}).content
    assert found.startswith("[notes.md #") and "BLUE-HERON-42" in found
    assert "Marmalade" in run_tool(tool, {"query": "the office cat's name", "top_k": 1}).content
