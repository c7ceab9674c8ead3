"""RAG: answer from the user's documents. Upload them on the Chat tab; see README.md."""

from __future__ import annotations

import html
import logging
import threading
from pathlib import Path
from typing import Any

from backends.errors import AppError, StoreCorrupt
from extensions.rag.index import SHARED, RagIndex, chat_collection
from extensions.rag.sources import fit_budget, sources_block, with_context, without_sources

log = logging.getLogger(__name__)
THIS_CHAT, ALL_CHATS = "This chat only", "All chats (shared)"


class Extension:
    """Retrieval-augmented generation over documents kept in user_data/rag/."""

    def __init__(self, ctx: Any) -> None:
        self.params = {
            "display_name": "Documents (RAG)",
            "is_tab": False,
            "top_k": 4,  # passages retrieved per question
            "context_tokens": 480,  # the most passage tokens put into the prompt
            "min_similarity": 0.15,  # passages less similar to the question are left out
            "hybrid": True,  # fuse keyword (BM25) ranks with vector similarity
        }
        self.index = RagIndex(ctx.user_data_dir / "rag", ctx.embedder)

    def setup(self) -> None:
        """Open the store (reporting damage) and warm the embedding model up in the background."""
        try:
            self.index.store()
        except StoreCorrupt as exc:
            log.error("RAG: %s", exc)
        threading.Thread(target=lambda: self.index.embedder.model, name="rag-embedder", daemon=True).start()

    # ---- hooks ---------------------------------------------------------------------------

    def input_modifier(self, string: str, state: dict, is_chat: bool = False) -> str:
        """Put the passages that best match the question before it."""
        if not is_chat:
            return string
        collections = [SHARED] + [c for c in [chat_collection(state.get("chat_id"))] if c]
        p = self.params
        hits = self.index.search(string, collections, int(p["top_k"]), bool(p["hybrid"]))
        hits = [hit for hit in hits if hit.similarity >= float(p["min_similarity"])]
        hits = fit_budget(hits, self.index.embedder.count_tokens, int(p["context_tokens"]))
        if not hits:
            return string
        state["rag_sources"] = hits
        return with_context(string, hits)

    def output_modifier(self, string: str, state: dict, is_chat: bool = False) -> str:
        """Show the sources used under the reply."""
        hits = state.get("rag_sources")
        if not hits:
            return string
        return without_sources(string) + sources_block(hits)

    def history_modifier(self, history: list[dict]) -> list[dict]:
        """Earlier replies' source lists are for people, not for the model."""
        return [{**m, "content": without_sources(m["content"])} if m["role"] == "assistant" else m for m in history]

    def register_tools(self) -> list[Any]:
        """Offer the documents to tool use: a `search_documents` tool over every collection."""
        return [self.search_documents]

    def search_documents(self, query: str, top_k: int = 4) -> str:
        """Search the user's uploaded documents (all collections) and return the best-matching passages.

        Args:
            query: What to look for, in words.
            top_k: How many passages to return (1 to 10).
        """
        if not query.strip():
            return "Nothing to search for: the query is empty."
        collections = sorted({row.collection for row in self.index.documents()})
        if not collections:
            return "No documents have been uploaded."
        hits = self.index.search(query, collections, max(1, min(int(top_k), 10)), bool(self.params["hybrid"]))
        if not hits:
            return "No passage matches."
        return "\n\n".join(f"[{hit.doc_name} #{hit.seq + 1}] {hit.text}" for hit in hits)

    search_documents.timeout = 60  # the first search may wait for the embedding model to load

    def custom_css(self) -> str:
        """Compact, readable source lists."""
        return (
            ".rag-sources summary { cursor: pointer; color: var(--body-text-color-subdued); }\n"
            ".rag-source blockquote { font-size: 0.9em; max-height: 14em; overflow-y: auto; }"
        )

    # ---- UI ------------------------------------------------------------------------------

    def ui(self, ctx: Any) -> None:
        """Upload, list, delete and rebuild, in an accordion on the Chat tab."""
        import gradio as gr

        with gr.Accordion("📚 Documents (RAG)", open=True, elem_id="rag-panel"):
            with gr.Row():
                upload = gr.File(
                    label="Add documents: .txt .md .pdf .html .docx, up to 50 MB each",
                    file_count="multiple",
                    type="filepath",
                    elem_id="rag-upload",
                    height=140,
                )
                target = gr.Radio([ALL_CHATS, THIS_CHAT], value=ALL_CHATS, label="Add to", elem_id="rag-target")
            status = gr.Markdown(self._status(), elem_id="rag-status")
            listing = gr.Markdown(elem_id="rag-documents")
            with gr.Row():
                chosen = gr.Dropdown(label="Document", choices=[], elem_id="rag-document-choice", scale=3)
                delete = gr.Button("Delete document", variant="stop", size="sm", elem_id="rag-delete", scale=1)
                rebuild = gr.Button("Rebuild index", size="sm", elem_id="rag-rebuild", scale=1)

        def refresh(view: Any) -> tuple:
            return self._listing(ctx.chat_id(view))

        outputs = [listing, chosen]
        upload.upload(
            lambda files, where, view: self._upload(files, where, ctx.chat_id(view)),
            [upload, target, ctx.chat_state],
            [status, upload],
        ).then(refresh, [ctx.chat_state], outputs)
        delete.click(self._delete, [chosen], [status]).then(refresh, [ctx.chat_state], outputs)
        rebuild.click(self._rebuild, None, [status]).then(refresh, [ctx.chat_state], outputs)
        ctx.chat_state.change(refresh, [ctx.chat_state], outputs)

    def _status(self) -> str:
        if self.index.problem:
            return f"⚠️ {self.index.problem}. Press **Rebuild index** (documents are indexed again from their files)."
        return ""

    def _upload(self, files: list[str] | None, where: str, chat_id: str | None) -> tuple[str, None]:
        collection = SHARED if where == ALL_CHATS else chat_collection(chat_id)
        if collection is None:
            return "⚠️ This chat is not saved yet: send a message first, or add the document to all chats.", None
        lines = []
        for file in files or []:
            path = Path(file)
            try:
                done = self.index.add(path, path.name, collection)
                lines.append(f"✅ Added **{done.name}** ({done.chunks} passages, {done.seconds:.1f} s).")
            except AppError as exc:
                lines.append(f"⚠️ Not added: {exc}")
        return "\n\n".join(lines) or self._status(), None

    def _delete(self, doc_id: str | None) -> str:
        if not doc_id:
            return "Choose a document to delete."
        try:
            return "Deleted." if self.index.delete(doc_id) else "That document was already gone."
        except AppError as exc:
            return f"⚠️ {exc}"

    def _rebuild(self) -> str:
        failed = self.index.rebuild()
        count = len(self.index.documents())
        note = ("\n\n⚠️ Not re-indexed:\n" + "\n".join(f"- {line}" for line in failed)) if failed else ""
        return f"Rebuilt the index: {count} documents.{note}"

    def _listing(self, chat_id: str | None) -> tuple[str, Any]:
        import gradio as gr

        own = chat_collection(chat_id)
        try:
            docs = self.index.documents([SHARED] + ([own] if own else []))
        except StoreCorrupt:
            return "", gr.update(choices=[], value=None)
        if not docs:
            return "_No documents yet: answers come from the model alone._", gr.update(choices=[], value=None)
        rows = ["| Document | Used in | Passages |", "|---|---|---|"]
        for doc in docs:
            scope = "all chats" if doc.collection == SHARED else "this chat"
            rows.append(f"| {html.escape(doc.name).replace('|', '/')} | {scope} | {doc.chunks} |")
        choices = [(f"{doc.name} ({doc.id[-6:]})", doc.id) for doc in docs]
        return "\n".join(rows), gr.update(choices=choices, value=None)
