"""Token-aware chunking with overlap, measured with the embedding model's own tokenizer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: its text and where it lies (character offsets)."""

    text: str
    start: int
    end: int


def chunk_text(text: str, tokenizer: Any, max_tokens: int = 160, overlap: int = 32) -> list[Chunk]:
    """Split `text` into passages of at most `max_tokens` tokens, each sharing `overlap` tokens with the last.

    `tokenizer` is a Hugging Face fast tokenizer (its offset mapping turns token windows
    back into exact character spans). A window's end is moved back to a line or sentence
    break when one lies in its last third, so passages rarely cut a sentence in half.
    """
    if not 0 <= overlap < max_tokens:
        raise ValueError("overlap must be at least 0 and less than max_tokens")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets = [span for span in encoded["offset_mapping"] if span[1] > span[0]]
    chunks: list[Chunk] = []
    first = 0
    while first < len(offsets):
        last = min(first + max_tokens, len(offsets))
        if last < len(offsets):
            last = _break_before(text, offsets, first, last, max_tokens)
        start, end = offsets[first][0], offsets[last - 1][1]
        passage = text[start:end].strip()
        if passage:
            chunks.append(Chunk(passage, start, end))
        if last >= len(offsets):
            break
        first = max(first + 1, last - overlap)
    return chunks


def _break_before(text: str, offsets: list[tuple[int, int]], first: int, last: int, max_tokens: int) -> int:
    """The largest token index in the window's last third that ends a line or a sentence, else `last`."""
    lowest = first + (2 * max_tokens) // 3
    for index in range(last, lowest, -1):
        end = offsets[index - 1][1]
        following = text[end : end + 1]
        if following == "\n" or (text[end - 1 : end] in ".!?" and following in (" ", "\n", "")):
            return index
    return last
