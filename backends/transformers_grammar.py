"""Constrained decoding for the transformers backend: GBNF grammars and JSON schemas via xgrammar."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import torch

from backends.errors import InvalidRequest
from backends.sampling import SamplingParams


class GrammarCompiler:
    """Compiles grammars for one tokenizer (built once per loaded model, on first use)."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_ids: Iterable[int]) -> None:
        import xgrammar

        info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=list(stop_ids))
        self._xgrammar = xgrammar
        self._compiler = xgrammar.GrammarCompiler(info)
        self.vocab_size = vocab_size

    def constraint(self, params: SamplingParams) -> GrammarConstraint | None:
        """The constraint `params` asks for (grammar or json_schema), or None."""
        try:
            if params.grammar:
                compiled = self._compiler.compile_grammar(params.grammar)
            elif params.json_schema is not None:
                compiled = self._compiler.compile_json_schema(json.dumps(params.json_schema))
            else:
                return None
        except (RuntimeError, ValueError) as exc:
            what = "grammar" if params.grammar else "json_schema"
            raise InvalidRequest(f"{what}: cannot be compiled ({str(exc).splitlines()[0]})") from exc
        return GrammarConstraint(self._xgrammar, compiled, self.vocab_size)


class GrammarConstraint:
    """Masks the logits of tokens the grammar does not allow next, and follows the chosen ones."""

    def __init__(self, xgrammar: Any, compiled: Any, vocab_size: int) -> None:
        self._xgrammar = xgrammar
        self._matcher = xgrammar.GrammarMatcher(compiled)
        self._bitmask = xgrammar.allocate_token_bitmask(1, vocab_size)

    def mask(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits with every token the grammar forbids set to -inf."""
        self._matcher.fill_next_token_bitmask(self._bitmask)
        masked = logits.clone().unsqueeze(0)
        self._xgrammar.apply_token_bitmask_inplace(masked, self._bitmask, vocab_size=logits.numel())
        return masked[0]

    def accept(self, token: int) -> None:
        """Advance the grammar past the chosen token."""
        self._matcher.accept_token(token)
