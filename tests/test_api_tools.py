"""`tools` / `tool_choice` on /v1/chat/completions through the official openai client (the client runs the tool)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import openai
import pytest

from tests.api_helpers import API_KEY, MODEL, ApiServer, api_server, ask, error_of, raw
from webui.tools.registry import ToolRegistry

pytestmark = pytest.mark.slow
TOOLS_DIR = Path(__file__).resolve().parent.parent / "extensions" / "tools"
QUESTION = "What is 1234 * 5678?"
F = {"type": "function", "function": {"name": "f"}}
NAMED = {"type": "function", "function": {"name": "calculator"}}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with api_server(tmp_path_factory.mktemp("api-tools"), "--api-key", API_KEY, "--n-ctx", "2048") as server:
        yield server


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    registry = ToolRegistry()
    registry.discover(TOOLS_DIR)
    return registry


@pytest.fixture
def client(api: ApiServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=api.url + "/v1", api_key=API_KEY, max_retries=0, timeout=180)


def calculator_schema(registry: ToolRegistry) -> dict:
    return registry.get("calculator").openai_schema()


def check_call(call: dict, registry: ToolRegistry) -> dict:
    """The call names the calculator and its arguments parse and validate against the tool's schema."""
    assert call["type"] == "function" and call["id"]
    assert call["function"]["name"] == "calculator"
    arguments = json.loads(call["function"]["arguments"])
    jsonschema.validate(arguments, calculator_schema(registry)["function"]["parameters"])
    return arguments


def test_named_tool_choice_returns_a_call_and_the_result_gives_the_answer(
    client: openai.OpenAI, registry: ToolRegistry
) -> None:
    tools = [calculator_schema(registry)]
    messages = ask(QUESTION)
    reply = client.chat.completions.create(
        model=MODEL, messages=messages, tools=tools, tool_choice=NAMED, temperature=0, max_tokens=64
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = [c.model_dump() for c in choice.message.tool_calls]
    arguments = check_call(call, registry)
    output = registry.get("calculator").function(**arguments)  # the client runs the tool
    assert output == "7006652", arguments
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": output},
    ]
    final = client.chat.completions.create(model=MODEL, messages=messages, tools=tools, temperature=0, max_tokens=64)
    assert final.choices[0].finish_reason in ("stop", "length") and not final.choices[0].message.tool_calls
    assert "7006652" in final.choices[0].message.content.replace(",", "")
    assert final.usage.prompt_tokens > 0 and final.usage.completion_tokens > 0


def test_streamed_call_assembles_the_same_call(client: openai.OpenAI, registry: ToolRegistry) -> None:
    kwargs = {"model": MODEL, "messages": ask(QUESTION), "tools": [calculator_schema(registry)], "tool_choice": NAMED}
    kwargs.update(temperature=0, max_tokens=64)
    whole = client.chat.completions.create(**kwargs).choices[0].message.tool_calls[0]
    chunks = list(client.chat.completions.create(**kwargs, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [d for c in chunks for d in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].index == 0 and deltas[0].id and deltas[0].type == "function"
    assert deltas[0].function.name == "calculator"
    arguments = "".join(d.function.arguments or "" for d in deltas)
    assert {d.index for d in deltas} == {0}
    assert arguments == whole.function.arguments
    assert [c.choices[0].finish_reason for c in chunks][-1] == "tool_calls"
    check_call(
        {"id": deltas[0].id, "type": "function", "function": {"name": "calculator", "arguments": arguments}}, registry
    )


def test_tool_choice_none_gives_plain_text(client: openai.OpenAI, registry: ToolRegistry) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=ask("What is the capital of France?"),
        tools=[calculator_schema(registry)],
        tool_choice="none",
        temperature=0,
        max_tokens=24,
    )
    choice = reply.choices[0]
    assert choice.finish_reason in ("stop", "length") and not choice.message.tool_calls
    assert "Paris" in choice.message.content


@pytest.mark.parametrize(
    ("tools", "tool_choice", "param"),
    [
        ([{"type": "function"}], None, "tools"),
        ([{"type": "retrieval", "function": {"name": "x"}}], None, "tools"),
        ([{"type": "function", "function": {"name": "bad name!"}}], None, "tools"),
        ([{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}], None, "tools"),
        ([], None, "tools"),
        (
            [F],
            {"type": "function", "function": {"name": "g"}},
            "tool_choice",
        ),
        ([F], "sometimes", "tool_choice"),
        ([F], {"type": "function"}, "tool_choice"),
        (None, "required", "tool_choice"),
    ],
)
def test_bad_tools_are_a_400_naming_the_field(api: ApiServer, tools: object, tool_choice: object, param: str) -> None:
    body: dict = {"model": MODEL, "messages": ask(QUESTION), "max_tokens": 8}
    if tools is not None:
        body["tools"] = tools
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    response = raw(api, "/v1/chat/completions", body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert (error["param"] or "").split(".")[0] == param, error


def test_a_tool_message_without_its_call_id_is_a_400(api: ApiServer) -> None:
    messages = [*ask(QUESTION), {"role": "tool", "content": "7006652"}]
    response = raw(api, "/v1/chat/completions", {"model": MODEL, "messages": messages, "max_tokens": 8})
    assert response.status_code == 400 and "tool_call_id" in error_of(response)["message"]
