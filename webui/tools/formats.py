"""Tool-call formats: how tools are offered to a model, how its calls are parsed, how results go back.

A chat template that takes a `tools` variable gets the tools and OpenAI-shaped messages
(`tool_calls` on assistant turns, role "tool" results) and renders them its own way. The
family of the template decides the call syntax the model was trained to emit:

- ``hermes`` (Hermes, Qwen 2/2.5/3): ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``
- ``llama3`` (Llama 3.1+): ``{"name": ..., "parameters": {...}}``, maybe after ``<|python_tag|>``
- ``mistral``: ``[TOOL_CALLS][{"name": ..., "arguments": {...}}]`` (or ``[TOOL_CALLS]name[ARGS]{...}``)
- ``generic``: for templates without tool support. The tools are described in the system
  message (see `GENERIC_INSTRUCTIONS`), calls use the Hermes syntax, assistant calls are
  rendered as that text and results as a user turn ``<tool_response>name: result</tool_response>``.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from webui.chat.conversation import Message, ToolCall

Family = Literal["hermes", "llama3", "mistral", "generic"]

GENERIC_INSTRUCTIONS = """You can call tools. Their descriptions, as JSON Schemas:
<tools>
{tools}
</tools>
To call a tool, reply with only this, nothing before or after:
<tool_call>
{{"name": "<tool name>", "arguments": {{<arguments as JSON>}}}}
</tool_call>
The result comes back inside <tool_response></tool_response>. Use it to answer the user."""


@dataclass(frozen=True)
class ParsedCall:
    """One call found in model output: valid (name and arguments) or not (`error` says why)."""

    name: str = ""
    arguments: Any = None
    raw: str = ""
    error: str | None = None


@dataclass(frozen=True)
class ToolFormat:
    """The call syntax of one template family."""

    family: Family
    native: bool  # the template renders tools itself (takes `tools`)

    @property
    def call_prefix(self) -> str:
        """Text that opens a call; constrained generation starts after it."""
        return {"hermes": "<tool_call>\n", "generic": "<tool_call>\n", "mistral": "[TOOL_CALLS]", "llama3": ""}[
            self.family
        ]

    @property
    def call_suffix(self) -> str:
        """Text that closes a call."""
        return "\n</tool_call>" if self.family in ("hermes", "generic") else ""

    @property
    def decision_marker(self) -> str:
        """What the model's reply starts with when it calls a tool."""
        return {"hermes": "<tool_call>", "generic": "<tool_call>", "mistral": "[TOOL_CALLS]", "llama3": '{"name"'}[
            self.family
        ]

    @property
    def arguments_key(self) -> str:
        """The key the family uses for the arguments object."""
        return "parameters" if self.family == "llama3" else "arguments"

    def call_schema(self, tools: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """A JSON Schema that only the body of a valid call to one of `tools` (OpenAI format) matches."""
        options = [
            {
                "type": "object",
                "properties": {
                    "name": {"const": t["function"]["name"]},
                    self.arguments_key: t["function"].get("parameters") or {"type": "object"},
                },
                "required": ["name", self.arguments_key],
                "additionalProperties": False,
            }
            for t in tools
        ]
        body = options[0] if len(options) == 1 else {"anyOf": options}
        if self.family == "mistral":
            return {"type": "array", "items": body, "minItems": 1, "maxItems": 1}
        return body

    def render_call_text(self, calls: Sequence[ToolCall]) -> str:
        """Calls as the model itself would write them."""
        bodies = [{"name": c.name, self.arguments_key: _loads_or_raw(c.arguments)} for c in calls]
        if self.family == "mistral":
            return "[TOOL_CALLS]" + json.dumps(bodies, ensure_ascii=False)
        if self.family == "llama3":
            return "; ".join(json.dumps(b, ensure_ascii=False) for b in bodies)
        return "\n".join(f"<tool_call>\n{json.dumps(b, ensure_ascii=False)}\n</tool_call>" for b in bodies)

    def parse(self, text: str) -> tuple[str, list[ParsedCall]]:
        """Split model output into its plain text and the calls it makes (invalid ones carry an error)."""
        if self.family == "mistral":
            return _parse_mistral(text)
        if self.family == "llama3":
            return _parse_llama3(text)
        return _parse_tagged(text)


def detect_format(template_source: str) -> ToolFormat:
    """The tool format of a chat template, judged from its source."""
    native = re.search(r"\btools\b", template_source) is not None
    if "[TOOL_CALLS]" in template_source:
        return ToolFormat("mistral", native)
    if "<|python_tag|>" in template_source or ("<|start_header_id|>" in template_source and native):
        return ToolFormat("llama3", native)
    if "<tool_call>" in template_source and native:
        return ToolFormat("hermes", native)
    return ToolFormat("generic", False)


def template_messages(messages: Sequence[Message], fmt: ToolFormat) -> list[dict[str, Any]]:
    """Messages as the template takes them: OpenAI-shaped for native formats, plain text for generic."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            if fmt.native:
                out.append(
                    {
                        "role": "tool",
                        "content": message.content,
                        "tool_call_id": message.tool_call_id or "",
                        "name": message.name or "",
                    }
                )
                continue
            body = f"<tool_response>\n{message.name}: {message.content}\n</tool_response>"
            if out and out[-1]["role"] == "user" and out[-1]["content"].startswith("<tool_response>"):
                out[-1] = {**out[-1], "content": out[-1]["content"] + "\n" + body}
            else:
                out.append({"role": "user", "content": body})
        elif message.role == "assistant" and message.tool_calls:
            if fmt.native:
                calls = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": _loads_or_raw(c.arguments)},
                    }
                    for c in message.tool_calls
                ]
                out.append({"role": "assistant", "content": message.content, "tool_calls": calls})
            else:
                text = (message.content + "\n" if message.content else "") + fmt.render_call_text(message.tool_calls)
                out.append({"role": "assistant", "content": text})
        else:
            out.append(message.as_template_input())
    return out


def generic_system_text(tools: Sequence[dict[str, Any]]) -> str:
    """The system-prompt description of `tools` for templates without tool support."""
    return GENERIC_INSTRUCTIONS.format(tools="\n".join(json.dumps(t, ensure_ascii=False) for t in tools))


def new_call_id() -> str:
    """A fresh call id (9 letters and digits: what Mistral's templates require)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(9))


def to_tool_call(parsed: ParsedCall) -> ToolCall:
    """A valid parsed call as the message field stores it."""
    return ToolCall(id=new_call_id(), name=parsed.name, arguments=json.dumps(parsed.arguments, ensure_ascii=False))


def _loads_or_raw(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except json.JSONDecodeError:
        return arguments


def _call_from_json(raw: str, value: Any) -> ParsedCall:
    """Check the shape {"name": str, "arguments"|"parameters": object (or JSON text of one)}."""
    if not isinstance(value, dict):
        return ParsedCall(raw=raw, error="a tool call must be a JSON object with name and arguments")
    name = value.get("name")
    if not isinstance(name, str) or not name:
        return ParsedCall(raw=raw, error='the tool call has no "name"')
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            return ParsedCall(name=name, raw=raw, error=f"the arguments of {name} are not valid JSON ({exc.msg})")
    return ParsedCall(name=name, arguments=arguments, raw=raw)


def _json_call(raw: str) -> ParsedCall:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return ParsedCall(raw=raw, error=f"the tool call is not valid JSON ({exc.msg} at character {exc.pos})")
    return _call_from_json(raw, value)


_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def _parse_tagged(text: str) -> tuple[str, list[ParsedCall]]:
    calls = [_json_call(match.group(1)) for match in _TAGGED.finditer(text)]
    return _TAGGED.sub("", text).strip(), calls


def _parse_llama3(text: str) -> tuple[str, list[ParsedCall]]:
    body = text.replace("<|python_tag|>", "").strip()
    if not body.startswith("{"):
        return text.strip(), []
    calls: list[ParsedCall] = []
    decoder = json.JSONDecoder()
    position = 0
    while position < len(body):
        try:
            value, end = decoder.raw_decode(body, position)
        except json.JSONDecodeError as exc:
            calls.append(ParsedCall(raw=body[position:], error=f"the tool call is not valid JSON ({exc.msg})"))
            break
        calls.append(_call_from_json(body[position:end], value))
        position = end
        while position < len(body) and body[position] in " \n\t;":
            position += 1
    if calls and all(c.error for c in calls) and '"name"' not in body:
        return text.strip(), []  # plain JSON in an answer, not a call
    return "", calls


def _parse_mistral(text: str) -> tuple[str, list[ParsedCall]]:
    head, marker, tail = text.partition("[TOOL_CALLS]")
    if not marker:
        return text.strip(), []
    calls: list[ParsedCall] = []
    for part in tail.split("[TOOL_CALLS]"):
        part = part.strip()
        if "[ARGS]" in part:  # v11+ syntax: name[ARGS]{...}
            name, _, arguments = part.partition("[ARGS]")
            parsed = _call_from_json(part, {"name": name.strip(), "arguments": arguments.strip()})
            calls.append(parsed)
            continue
        try:
            value, _ = json.JSONDecoder().raw_decode(part)
        except json.JSONDecodeError as exc:
            calls.append(ParsedCall(raw=part, error=f"the tool calls are not valid JSON ({exc.msg})"))
            continue
        for item in value if isinstance(value, list) else [value]:
            calls.append(_call_from_json(json.dumps(item), item))
    return head.strip(), calls
