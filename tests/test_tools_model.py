"""Tool use on the bundled SmolLM2-135M with grammar-constrained calls, through the real backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.base import Backend
from backends.sampling import GREEDY
from webui.chat.conversation import Message
from webui.chat.engine import ChatEngine
from webui.chat.templates import ChatTemplate, resolve_template
from webui.chat.tool_loop import ToolLoop, ToolLoopSettings
from webui.model_manager import LoadedModel, ModelManager
from webui.tools.api import plan_tool_call
from webui.tools.registry import ToolRegistry

pytestmark = pytest.mark.slow
TOOLS_DIR = Path(__file__).resolve().parent.parent / "extensions" / "tools"
QUESTION = "What is 1234 * 5678? Use the calculator."
PARAMS = GREEDY.model_copy(update={"max_new_tokens": 64})


def engine_for(backend: Backend, path: Path) -> ChatEngine:
    """A chat engine over an already loaded backend (the fixtures share one load per session)."""
    caps = backend.capabilities
    template = ChatTemplate(resolve_template(caps.chat_template), bos_token=caps.bos_token, eos_token=caps.eos_token)
    manager = ModelManager()
    manager._loaded = LoadedModel(backend=backend, path=path, loader=backend.name, template=template)
    return ChatEngine(manager, "You are a helpful assistant.")


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    registry = ToolRegistry()
    registry.discover(TOOLS_DIR)
    return registry


def ask_calculator(engine: ChatEngine, registry: ToolRegistry) -> ToolLoop:
    loop = ToolLoop(
        engine,
        [Message(role="user", content=QUESTION)],
        registry.enabled(),
        PARAMS,
        settings=ToolLoopSettings(max_steps=4, constrained=True),
    )
    for _ in loop:
        pass
    return loop


def check_calculator_answer(loop: ToolLoop) -> None:
    call_messages = [m for m in loop.new_messages if m.tool_calls]
    assert call_messages, [m.content for m in loop.new_messages]
    call = call_messages[0].tool_calls[0]
    assert call.name == "calculator"
    expression = json.loads(call.arguments)["expression"]
    assert "1234" in expression and "5678" in expression
    result = loop.new_messages[loop.new_messages.index(call_messages[0]) + 1]
    assert (result.role, result.content, result.error) == ("tool", "7006652", False)
    final = loop.new_messages[-1]
    assert final.role == "assistant" and not final.tool_calls
    assert "7006652" in final.content.replace(",", "")


def test_llama_cpp_calls_the_calculator_and_answers(llama_backend, model_path: Path, registry: ToolRegistry) -> None:
    check_calculator_answer(ask_calculator(engine_for(llama_backend, model_path), registry))


def test_api_seam_named_tool_choice_then_final_answer(llama_backend, model_path, registry: ToolRegistry) -> None:
    engine = engine_for(llama_backend, model_path)
    tools = [registry.get("calculator").openai_schema()]
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 1234 * 5678?"},
    ]
    choice = {"type": "function", "function": {"name": "calculator"}}
    result = plan_tool_call(engine, messages, tools, choice, PARAMS)
    assert result.finish_reason == "tool_calls" and result.completion_tokens > 0
    (tool_call,) = result.tool_calls
    assert tool_call["function"]["name"] == "calculator"
    arguments = json.loads(tool_call["function"]["arguments"])
    output = registry.get("calculator").function(**arguments)  # the client runs the tool
    messages += [
        {"role": "assistant", "content": "", "tool_calls": result.tool_calls},
        {"role": "tool", "tool_call_id": tool_call["id"], "content": output},
    ]
    final = plan_tool_call(engine, messages, tools, "auto", PARAMS)
    assert final.finish_reason in ("stop", "length") and final.tool_calls == []
    assert final.text.strip()
    if output == "7006652":
        assert "7006652" in final.text.replace(",", "")


def test_transformers_calls_the_calculator_and_answers(hf_backend, model_path: Path, registry: ToolRegistry) -> None:
    check_calculator_answer(ask_calculator(engine_for(hf_backend, model_path), registry))
