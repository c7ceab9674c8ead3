"""Tool-call formats: detection from real templates, rendering with tools, parsing model outputs.

The templates in tests/data/tool_templates/ follow the published Qwen2.5, Llama-3.1 and Mistral
(v0.3) chat templates. The outputs below are in the shapes those models emit (their model cards),
plus malformed variants, and one recorded from the bundled SmolLM2 in the generic format.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.loader import bundled_model_path
from webui.chat.conversation import Message, ToolCall
from webui.chat.templates import FALLBACK_TEMPLATES, ChatTemplate
from webui.tools.formats import ToolFormat, detect_format, generic_system_text, template_messages

TEMPLATES = Path(__file__).resolve().parent / "data" / "tool_templates"
CALC = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate arithmetic.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
}
CONVERSATION = [
    Message(role="system", content="Be brief."),
    Message(role="user", content="What is 2+3?"),
    Message(
        role="assistant",
        content="",
        tool_calls=[ToolCall(id="abcDEF123", name="calculator", arguments='{"expression": "2+3"}')],
    ),
    Message(role="tool", content="5", tool_call_id="abcDEF123", name="calculator"),
]


def template(name: str) -> ChatTemplate:
    return ChatTemplate((TEMPLATES / name).read_text(), bos_token="<s>", eos_token="</s>")


def smollm_template() -> str:
    import gguf

    reader = gguf.GGUFReader(str(bundled_model_path()))
    field = reader.fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode()


def test_detects_each_family() -> None:
    assert detect_format((TEMPLATES / "qwen2.5.jinja").read_text()) == ToolFormat("hermes", True)
    assert detect_format((TEMPLATES / "llama3.1.jinja").read_text()) == ToolFormat("llama3", True)
    assert detect_format((TEMPLATES / "mistral.jinja").read_text()) == ToolFormat("mistral", True)
    assert detect_format(smollm_template()) == ToolFormat("generic", False)
    assert detect_format(FALLBACK_TEMPLATES["llama3"]) == ToolFormat("generic", False)


@pytest.mark.parametrize(
    ("name", "tools_text", "call_text", "result_text"),
    [
        (
            "qwen2.5.jinja",
            '"name": "calculator"',
            '<tool_call>\n{"name": "calculator", "arguments": {"expression": "2+3"}}\n</tool_call>',
            "<|im_start|>user\n<tool_response>\n5\n</tool_response><|im_end|>",
        ),
        (
            "llama3.1.jinja",
            '"name": "calculator"',
            '{"name": "calculator", "parameters": {"expression": "2+3"}}<|eot_id|>',
            '<|start_header_id|>ipython<|end_header_id|>\n\n"5"<|eot_id|>',  # the template JSON-encodes results
        ),
        (
            "mistral.jinja",
            "[AVAILABLE_TOOLS]",
            '[TOOL_CALLS] [{"name": "calculator", "arguments": {"expression": "2+3"}, "id": "abcDEF123"}]',
            '[TOOL_RESULTS] {"content": 5, "call_id": "abcDEF123"}[/TOOL_RESULTS]',
        ),
    ],
)
def test_native_templates_render_tools_calls_and_results(
    name: str, tools_text: str, call_text: str, result_text: str
) -> None:
    tpl = template(name)
    fmt = detect_format(tpl.source)
    messages = CONVERSATION if fmt.family != "mistral" else [CONVERSATION[1], *CONVERSATION[2:]]
    if fmt.family == "mistral":  # Mistral puts the tools before the last user message
        text = tpl.render(template_messages([CONVERSATION[1]], fmt), tools=[CALC])
        assert tools_text in text
    text = tpl.render(template_messages(messages, fmt), tools=[CALC])
    if fmt.family != "mistral":
        assert tools_text in text
    assert call_text in text
    assert result_text in text


def test_generic_format_renders_into_any_template() -> None:
    tpl = ChatTemplate(smollm_template())
    fmt = detect_format(tpl.source)
    inputs = template_messages(CONVERSATION, fmt)
    inputs[0] = {**inputs[0], "content": inputs[0]["content"] + "\n\n" + generic_system_text([CALC])}
    text = tpl.render(inputs)
    assert '<tools>\n{"type": "function", "function": {"name": "calculator"' in text
    assert (
        '<|im_start|>assistant\n<tool_call>\n{"name": "calculator", "arguments": {"expression": "2+3"}}\n</tool_call>'
        in text
    )
    assert "<|im_start|>user\n<tool_response>\ncalculator: 5\n</tool_response><|im_end|>" in text


HERMES_OUTPUTS = [
    (
        '<tool_call>\n{"name": "calculator", "arguments": {"expression": "1234 * 5678"}}\n</tool_call>',
        ["calculator"],
        "",
    ),
    # two calls, text before them (Qwen does this)
    (
        'Let me check.\n<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call>\n'
        '<tool_call>\n{"name": "b", "arguments": "{\\"x\\": 1}"}\n</tool_call>',
        ["a", "b"],
        "Let me check.",
    ),
    # recorded: SmolLM2-135M, generic format, constrained decoding
    (
        '<tool_call>\n{"name": "calculator", "arguments": {"expression": "1234 * 5678"}}\n</tool_call>',
        ["calculator"],
        "",
    ),
    ("No tools needed: 4.", [], "No tools needed: 4."),
]


@pytest.mark.parametrize(("output", "names", "text"), HERMES_OUTPUTS)
def test_hermes_parser(output: str, names: list[str], text: str) -> None:
    parsed_text, calls = ToolFormat("hermes", True).parse(output)
    assert [c.name for c in calls] == names and all(c.error is None for c in calls)
    assert parsed_text == text
    if names == ["a", "b"]:
        assert calls[1].arguments == {"x": 1}


@pytest.mark.parametrize(
    ("output", "error"),
    [
        ('<tool_call>\n{"name": calculator, "arguments": {}}\n</tool_call>', "not valid JSON"),
        ('<tool_call>\n{"name": "calculator", "arguments": {"expression": "1+', "not valid JSON"),  # cut short
        ('<tool_call>\n{"arguments": {}}\n</tool_call>', 'no "name"'),
        ('<tool_call>\n["calculator"]\n</tool_call>', "JSON object"),
        ('<tool_call>\n{"name": "c", "arguments": "{bad"}\n</tool_call>', "arguments of c are not valid JSON"),
    ],
)
def test_hermes_parser_reports_malformed_calls(output: str, error: str) -> None:
    _, calls = ToolFormat("hermes", True).parse(output)
    assert len(calls) == 1 and calls[0].error is not None and error in calls[0].error


def test_llama3_parser() -> None:
    fmt = ToolFormat("llama3", True)
    _, calls = fmt.parse('{"name": "calculator", "parameters": {"expression": "2*3"}}')
    assert calls[0].name == "calculator" and calls[0].arguments == {"expression": "2*3"}
    _, calls = fmt.parse('<|python_tag|>{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"k": 2}}')
    assert [c.name for c in calls] == ["a", "b"]
    text, calls = fmt.parse("The answer is 6.")
    assert (text, calls) == ("The answer is 6.", [])
    _, calls = fmt.parse('{"name": "calculator", "parameters": {"expression": ')
    assert calls[0].error and "not valid JSON" in calls[0].error
    assert fmt.parse('{"answer": 6}') == ('{"answer": 6}', [])  # JSON in an answer is not a call
    _, calls = fmt.parse('{"name": 6, "parameters": {}}')
    assert calls[0].error and 'no "name"' in calls[0].error


def test_mistral_parser() -> None:
    fmt = ToolFormat("mistral", True)
    _, calls = fmt.parse('[TOOL_CALLS] [{"name": "calculator", "arguments": {"expression": "2*3"}}]')
    assert calls[0].name == "calculator" and calls[0].arguments == {"expression": "2*3"}
    _, calls = fmt.parse('[TOOL_CALLS]calculator[ARGS]{"expression": "1+1"}')  # the v11 syntax
    assert calls[0].name == "calculator" and calls[0].arguments == {"expression": "1+1"}
    _, calls = fmt.parse("[TOOL_CALLS] [{'name': 'calculator'}]")
    assert calls[0].error and "not valid JSON" in calls[0].error
    assert fmt.parse("Just text.") == ("Just text.", [])


def test_call_schema_only_matches_valid_calls() -> None:
    import jsonschema

    other = json.loads(json.dumps(CALC))
    other["function"]["name"] = "other"
    schema = ToolFormat("hermes", True).call_schema([CALC, other])
    jsonschema.validate({"name": "calculator", "arguments": {"expression": "1"}}, schema)
    for bad in ({"name": "nope", "arguments": {}}, {"name": "calculator", "arguments": {}}, {"name": "calculator"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    llama = ToolFormat("llama3", True).call_schema([CALC])
    jsonschema.validate({"name": "calculator", "parameters": {"expression": "1"}}, llama)
    mistral = ToolFormat("mistral", True).call_schema([CALC])
    jsonschema.validate([{"name": "calculator", "arguments": {"expression": "1"}}], mistral)
