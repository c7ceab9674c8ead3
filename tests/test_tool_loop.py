"""The tool loop's logic on a scripted backend (the real model is in test_tools_model.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.errors import InvalidRequest
from backends.sampling import GREEDY
from tests.fakes import ScriptedBackend
from webui.chat.conversation import Message
from webui.chat.engine import ChatEngine
from webui.chat.templates import FALLBACK_TEMPLATES, ChatTemplate
from webui.chat.tool_loop import DENIED, REPEATED, SKIPPED, ToolLoop, ToolLoopSettings, unanswered_calls
from webui.model_manager import LoadedModel, ModelManager
from webui.tools.api import plan_tool_call, stream_tool_call
from webui.tools.tool import tool_from_function


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


def delete_file(path: str) -> str:
    """Delete a file (a side-effecting test tool that only records what it was asked)."""
    DELETED.append(path)
    return f"deleted {path}"


DELETED: list[str] = []
FREE = ToolLoopSettings(max_steps=3, constrained=False)


def call(name: str, **arguments: object) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


@pytest.fixture
def setup() -> tuple[ChatEngine, ScriptedBackend]:
    backend = ScriptedBackend(context_length=8192)
    manager = ModelManager()
    template = ChatTemplate(FALLBACK_TEMPLATES["chatml"])
    manager._loaded = LoadedModel(backend=backend, path=Path("scripted"), loader="scripted", template=template)
    return ChatEngine(manager, "Be helpful."), backend


def run(engine: ChatEngine, messages: list[Message], tools: list, **kwargs: object) -> ToolLoop:
    loop = ToolLoop(engine, messages, tools, GREEDY, settings=kwargs.pop("settings", FREE), **kwargs)
    text = "".join(loop)
    assert isinstance(text, str)
    return loop


ASK = [Message(role="user", content="What is 2 + 3?")]


def test_call_result_answer(setup) -> None:
    engine, backend = setup
    backend.enqueue(call("add", a=2, b=3))
    backend.enqueue("It is 5.")
    loop = run(engine, ASK, [tool_from_function(add)])
    roles = [(m.role, bool(m.tool_calls), m.error) for m in loop.new_messages]
    assert roles == [("assistant", True, False), ("tool", False, False), ("assistant", False, False)]
    assert loop.new_messages[0].tool_calls[0].name == "add"
    assert (
        loop.new_messages[1].content == "5"
        and loop.new_messages[1].tool_call_id == loop.new_messages[0].tool_calls[0].id
    )
    assert loop.new_messages[2].content == "It is 5."
    first, second = (backend.detokenize(r.prompt) for r in backend.requests)
    assert '"name": "add"' in first and "<tool_call>" in first  # the generic description in the system prompt
    assert "<tool_response>\nadd: 5\n</tool_response>" in second


@pytest.mark.parametrize(
    ("output", "error"),
    [
        (call("subtract", a=1, b=2), "there is no tool named 'subtract'"),
        ('<tool_call>\n{"name": "add", "arguments": {"a": 2, b: 3}}\n</tool_call>', "not valid JSON"),
        (call("add", a="two", b=3), "a: 'two' is not of type 'integer'"),
        (call("add", a=2), "'b' is a required property"),
    ],
)
def test_bad_calls_become_error_steps_and_the_loop_goes_on(setup, output: str, error: str) -> None:
    engine, backend = setup
    backend.enqueue(output)
    backend.enqueue("Sorry, I could not compute it.")
    loop = run(engine, ASK, [tool_from_function(add)])
    errors = [m for m in loop.new_messages if m.role == "tool"]
    assert len(errors) == 1 and errors[0].error and error in errors[0].content
    assert loop.new_messages[-1].content == "Sorry, I could not compute it."
    assert error in backend.detokenize(backend.requests[1].prompt)  # the model is told


def test_steps_are_bounded(setup) -> None:
    engine, backend = setup
    for n in range(5):
        backend.enqueue(call("add", a=n, b=1))
    loop = run(engine, ASK, [tool_from_function(add)], settings=ToolLoopSettings(max_steps=2, constrained=False))
    assert sum(1 for m in loop.new_messages if m.tool_calls) == 2
    assert len(backend.requests) == 3
    assert loop.new_messages[-1].role == "assistant" and not loop.new_messages[-1].tool_calls


def test_side_effecting_tools_wait_for_approval(setup) -> None:
    engine, backend = setup
    tool = tool_from_function(delete_file, side_effecting=True)
    DELETED.clear()
    backend.enqueue(call("delete_file", path="notes.txt"))
    loop = run(engine, [Message(role="user", content="Delete notes.txt")], [tool])
    assert loop.awaiting is not None and loop.awaiting.name == "delete_file"
    assert DELETED == [] and loop.new_messages[-1].tool_calls

    backend.enqueue("Done.")
    approved = run(engine, loop.messages, [tool], approvals={loop.awaiting.id: True})
    assert DELETED == ["notes.txt"]
    assert [m.content for m in approved.new_messages] == ["deleted notes.txt", "Done."]

    backend.enqueue("OK, I left it.")
    denied = run(engine, loop.messages, [tool], approvals={loop.awaiting.id: False})
    assert DELETED == ["notes.txt"]
    assert denied.new_messages[0].content == DENIED and denied.new_messages[0].error


def test_constrained_call_uses_the_call_schema(setup) -> None:
    engine, backend = setup
    backend.enqueue('{"name": "add", "arguments": {"a": 2, "b": 3}}')
    backend.enqueue("5")
    settings = ToolLoopSettings(max_steps=1, constrained=True)
    loop = run(
        engine, [Message(role="user", content="Use add for 2 + 3.")], [tool_from_function(add)], settings=settings
    )
    request = backend.requests[0]
    assert backend.detokenize(request.prompt).endswith("<|im_start|>assistant\n<tool_call>\n")
    assert request.params.json_schema["properties"]["name"] == {"const": "add"}
    assert loop.new_messages[0].tool_calls[0].arguments == '{"a": 2, "b": 3}'


def test_api_seam_returns_openai_tool_calls(setup) -> None:
    engine, backend = setup
    tools = [tool_from_function(add).openai_schema()]
    backend.enqueue('{"name": "add", "arguments": {"a": 2, "b": 3}}')
    messages = [{"role": "user", "content": "2 + 3?"}]
    result = plan_tool_call(engine, messages, tools, {"type": "function", "function": {"name": "add"}}, GREEDY)
    assert result.finish_reason == "tool_calls"
    (tool_call,) = result.tool_calls
    assert tool_call["type"] == "function" and tool_call["function"]["name"] == "add"
    assert json.loads(tool_call["function"]["arguments"]) == {"a": 2, "b": 3}
    backend.enqueue("The sum is 5.")
    messages += [
        {"role": "assistant", "content": None, "tool_calls": result.tool_calls},
        {"role": "tool", "tool_call_id": tool_call["id"], "content": "5"},
    ]
    final = plan_tool_call(engine, messages, tools, "auto", GREEDY, constrained=False)
    assert final.finish_reason == "stop" and final.text == "The sum is 5." and final.tool_calls == []
    assert "<tool_response>\nadd: 5\n</tool_response>" in backend.detokenize(backend.requests[-1].prompt)


@pytest.mark.parametrize(
    ("tools", "choice", "error"),
    [
        ([{"type": "function", "function": {"name": "a b"}}], "auto", "invalid tool name"),
        ([{"type": "retrieval"}], "auto", "must be"),
        ([{"type": "function", "function": {"name": "a", "parameters": {"type": "string"}}}], "auto", "type object"),
        ([{"type": "function", "function": {"name": "a"}}] * 2, "auto", "same name"),
        (
            [{"type": "function", "function": {"name": "a"}}],
            {"type": "function", "function": {"name": "b"}},
            "not among",
        ),
        ([], "required", "at least one tool"),
        ([{"type": "function", "function": {"name": "a"}}], {"type": "function"}, "tool_choice must be"),
    ],
)
def test_api_seam_refuses_bad_tools_and_choices(setup, tools: list, choice: object, error: str) -> None:
    engine, _ = setup
    with pytest.raises(InvalidRequest, match=error):
        plan_tool_call(engine, [{"role": "user", "content": "hi"}], tools, choice, GREEDY)


def test_api_seam_refuses_malformed_messages(setup) -> None:
    engine, _ = setup
    with pytest.raises(InvalidRequest, match=r"messages\[0\]"):
        plan_tool_call(engine, [{"role": "wizard", "content": "hi"}], [], "auto", GREEDY)


def test_a_repeated_call_is_not_run_twice(setup) -> None:
    engine, backend = setup
    tool = tool_from_function(delete_file, side_effecting=True)
    DELETED.clear()
    backend.enqueue(call("delete_file", path="a.txt"))
    first = run(engine, [Message(role="user", content="Delete a.txt")], [tool])
    backend.enqueue(call("delete_file", path="a.txt"))  # the model asks for the same call again
    backend.enqueue("Deleted.")
    loop = run(engine, first.messages, [tool], approvals={first.awaiting.id: True})
    assert DELETED == ["a.txt"] and loop.awaiting is None
    assert [m.content for m in loop.new_messages if m.role == "tool"] == ["deleted a.txt", REPEATED]
    assert loop.new_messages[-1].content == "Deleted."


def test_writing_instead_of_approving_leaves_the_call_unrun(setup) -> None:
    engine, backend = setup
    tool = tool_from_function(delete_file, side_effecting=True)
    DELETED.clear()
    backend.enqueue(call("delete_file", path="b.txt"))
    first = run(engine, [Message(role="user", content="Delete b.txt")], [tool])
    skipped = unanswered_calls(first.messages)
    assert [(m.role, m.content, m.tool_call_id) for m in skipped] == [("tool", SKIPPED, first.awaiting.id)]
    backend.enqueue("Fine, I will not.")
    messages = [*first.messages, *skipped, Message(role="user", content="Never mind.")]
    loop = run(engine, messages, [tool])
    assert DELETED == [] and loop.awaiting is None
    assert [m.content for m in loop.new_messages] == ["Fine, I will not."]


def test_api_stream_yields_text_then_the_result(setup) -> None:
    engine, backend = setup
    tools = [tool_from_function(add).openai_schema()]
    backend.enqueue("No ", "tool ", "needed.")
    stream = stream_tool_call(engine, [{"role": "user", "content": "Hi"}], tools, "auto", GREEDY, constrained=False)
    assert stream.result is None
    assert list(stream) == ["No ", "tool ", "needed."]
    assert stream.result.text == "No tool needed." and stream.result.finish_reason == "stop"
    assert stream.result.completion_tokens == 3
