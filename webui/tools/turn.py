"""One model turn with tools offered: free text, or a (grammar-constrained) call.

Constrained calls (on backends that honour `json_schema`, i.e. llama.cpp and transformers):

- tool_choice ``required`` or a tool's name: the prompt is followed by the family's call prefix
  (e.g. ``<tool_call>\\n``) and the body is generated under a JSON Schema that only valid calls
  match (``{"name": const, "arguments": <the tool's schema>}``, anyOf over the tools).
- ``auto``: first a short *decision* generation under a grammar that allows either the call
  marker (``<tool_call>``) or text that does not start with it. If the model chose the marker,
  the call is generated as above; otherwise the decision text is the start of the answer, and
  the answer continues unconstrained.
- ``none``: tools are still described (the conversation may mention them) but no call is parsed.

Without constraints the model's output is parsed as it is; a malformed call becomes an error call.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from backends.base import FinishReason, GenerationRequest
from backends.errors import InvalidRequest
from backends.sampling import SamplingParams
from webui.chat.conversation import Message
from webui.generation import Completion
from webui.tools.formats import ParsedCall, ToolFormat, detect_format, generic_system_text, template_messages

#: Tokens the auto-mode decision may take (the call marker is a few tokens long).
DECISION_TOKENS = 8
#: The fewest tokens a constrained call may take.
MIN_CALL_TOKENS = 256


def tool_choice_name(tool_choice: Any) -> str:
    """Normalise OpenAI's tool_choice (a string or {"type": "function", "function": {"name"}})."""
    if isinstance(tool_choice, Mapping):
        function = tool_choice.get("function")
        if tool_choice.get("type") != "function" or not isinstance(function, Mapping) or "name" not in function:
            raise InvalidRequest('tool_choice must be "auto", "none", "required" or {"type": "function", ...}')
        return str(function["name"])
    if tool_choice is None:
        return "auto"
    return str(tool_choice)


@dataclass
class TurnResult:
    """What the model said in one turn: text, and the calls it made (each valid or with an error)."""

    text: str = ""
    calls: list[ParsedCall] = field(default_factory=list)
    finish_reason: FinishReason = FinishReason.STOP
    completions: list[Completion] = field(default_factory=list)
    constrained: bool = False


class ToolTurn:
    """Iterate for the turn's visible text deltas; afterwards `result` holds text and calls."""

    def __init__(
        self,
        engine: Any,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        params: SamplingParams,
        *,
        tool_choice: Any = "auto",
        constrained: bool = True,
        system_prompt: str | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.tools = [dict(t) for t in tools]
        self.choice = tool_choice_name(tool_choice)
        if self.choice not in ("auto", "none", "required"):
            if self.choice not in [t["function"]["name"] for t in self.tools]:
                raise InvalidRequest(f"tool_choice names {self.choice!r}, which is not among the tools")
            self.tools = [t for t in self.tools if t["function"]["name"] == self.choice]
        if self.choice == "required" and not self.tools:
            raise InvalidRequest('tool_choice "required" needs at least one tool')
        loaded = engine.models.loaded
        self.format: ToolFormat = detect_format(loaded.template.source)
        supported = loaded.backend.capabilities.supported_sampling
        self.constrained = constrained and {"grammar", "json_schema"} <= supported
        self.params = params
        self.cancel = cancel or threading.Event()
        self.prompt = engine.build_prompt(
            messages,
            params,
            system_prompt=system_prompt,
            tools=self.tools if self.format.native and self.tools else None,
            to_inputs=self._inputs,
        )
        self.result = TurnResult(constrained=self.constrained)

    def _inputs(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        inputs = template_messages(messages, self.format)
        if self.format.native or not self.tools:
            return inputs
        description = generic_system_text(self.tools)
        if inputs and inputs[0]["role"] == "system":
            inputs[0] = {**inputs[0], "content": inputs[0]["content"] + "\n\n" + description}
        else:
            inputs.insert(0, {"role": "system", "content": description})
        return inputs

    def __iter__(self) -> Iterator[str]:
        if not self.tools or self.choice == "none":
            yield from self._free(self.prompt.text)
            self.result.text = self.result.text.strip() if self.choice == "none" else self.result.text
            if self.choice != "none":
                self._parse_free()
            return
        if not self.constrained:
            yield from self._free(self.prompt.text)
            self._parse_free()
            return
        if self.choice == "auto":
            decision = self._decide()
            if decision is not None:  # the model answers: the decision text starts the answer
                yield decision
                self.result.text = decision
                if self.result.finish_reason == FinishReason.LENGTH:
                    yield from self._free(self.prompt.text + decision, prefix=decision)
                return
        self._constrained_call()

    # ---- pieces ---------------------------------------------------------------------------

    def _tokens(self, text: str) -> list[int]:
        backend = self.engine.models.loaded.backend
        caps = backend.capabilities
        starts_with_bos = bool(caps.bos_token) and text.startswith(caps.bos_token)
        return backend.tokenize(text, add_bos=caps.add_bos and not starts_with_bos)

    def _generate(self, text: str, params: SamplingParams) -> Iterator[str]:
        stream = self.engine.models.stream(GenerationRequest(prompt=self._tokens(text), params=params), self.cancel)
        yield from stream
        if stream.completion is not None:
            self.result.completions.append(stream.completion)
            self.result.finish_reason = stream.completion.finish_reason

    def _free(self, text: str, prefix: str = "") -> Iterator[str]:
        parts = [prefix]
        for delta in self._generate(text, self.params):
            parts.append(delta)
            yield delta
        self.result.text = "".join(parts)

    def _parse_free(self) -> None:
        text, calls = self.format.parse(self.result.text)
        if calls:
            self.result.text, self.result.calls = text, calls

    def _decide(self) -> str | None:
        """None if the model chose to call a tool, else the start of its answer."""
        marker = self.format.decision_marker
        grammar = f"root ::= {json.dumps(marker)} | [^{_gbnf_char(marker[0])}] [^\\x00]*\n"
        params = self.params.model_copy(update={"grammar": grammar, "json_schema": None})
        params = params.model_copy(update={"max_new_tokens": DECISION_TOKENS})
        text = "".join(self._generate(self.prompt.text, params))
        if text.startswith(marker[:1]) and marker.startswith(text[: len(marker)].rstrip()):
            return None
        return text

    def _constrained_call(self) -> None:
        schema = self.format.call_schema(self.tools)
        budget = max(MIN_CALL_TOKENS, self.params.max_new_tokens)
        params = self.params.model_copy(update={"json_schema": schema, "grammar": None, "max_new_tokens": budget})
        prefix = self.format.call_prefix
        body = "".join(self._generate(self.prompt.text + prefix, params))
        text, calls = self.format.parse(prefix + body + self.format.call_suffix)
        if not calls:  # cut short (length, cancel): report what there is as an invalid call
            calls = [ParsedCall(raw=body, error="the tool call was cut short before it was complete")]
        self.result.text, self.result.calls = text, calls


def _gbnf_char(char: str) -> str:
    return "\\" + char if char in "[]^-\\" else char
