"""How retrieved passages enter the prompt, and how their sources are shown under a reply."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from extensions.rag.store import Hit

#: Starts the sources block appended to a reply (and removed from the history the model sees).
SOURCES_START = '\n\n<details class="rag-sources">'


def fit_budget(hits: Sequence[Hit], count_tokens: Callable[[str], int], budget: int) -> list[Hit]:
    """The best hits whose passages together stay within `budget` tokens (at least one, if any fits)."""
    chosen, used = [], 0
    for hit in hits:
        size = count_tokens(hit.text)
        if used + size > budget:
            continue
        chosen.append(hit)
        used += size
    return chosen


def with_context(question: str, hits: Sequence[Hit]) -> str:
    """The user's message with the passages put before it."""
    passages = "\n\n".join(hit.text for hit in hits)
    return f'Use this information to answer:\n"""\n{passages}\n"""\n\n{question}'


def sources_block(hits: Sequence[Hit]) -> str:
    """A collapsible list of the sources; each entry opens to show its passage."""
    names = ", ".join(dict.fromkeys(html.escape(hit.doc_name) for hit in hits))
    parts = [SOURCES_START, f"<summary>📚 Sources: {names}</summary>\n"]
    for number, hit in enumerate(hits, 1):
        passage = html.escape(hit.text).replace("\n", "<br>")
        parts.append(
            f'<details class="rag-source"><summary>[{number}] {html.escape(hit.doc_name)}, passage {hit.seq + 1} '
            f"(similarity {hit.similarity:.2f})</summary><blockquote>{passage}</blockquote></details>\n"
        )
    parts.append("</details>")
    return "".join(parts)


def without_sources(text: str) -> str:
    """A reply without its sources block."""
    return text.split(SOURCES_START, 1)[0]
