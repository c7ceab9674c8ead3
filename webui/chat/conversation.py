"""A conversation: role-tagged messages, plus what the UI shows under replies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """A call the model made: the tool's name and its arguments as JSON text (OpenAI's shape)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    arguments: str = Field("{}", max_length=200_000)


class ReplyStats(BaseModel):
    """Figures shown under a reply."""

    model_config = ConfigDict(extra="forbid")

    generated_tokens: int = 0
    tokens_per_second: float = 0.0
    time_to_first_token: float = 0.0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    finish_reason: str = ""
    truncated_messages: int = 0  # earlier messages dropped to fit the context
    ignored_fields: list[str] = Field(default_factory=list)  # sampling fields the backend does not honour


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str = Field(max_length=2_000_000)
    stats: ReplyStats | None = None
    #: On an assistant message: the tool calls it made (its content is any text around them).
    tool_calls: list[ToolCall] | None = Field(None, max_length=16)
    #: On a tool message: which call it answers, the tool's name, and whether it is an error.
    tool_call_id: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=200)
    error: bool = False

    def as_template_input(self) -> dict[str, str]:
        """The mapping a chat template expects."""
        return {"role": self.role, "content": self.content}


#: The most messages a saved chat may hold.
MAX_MESSAGES = 20_000
DEFAULT_CHAT_NAME = "New chat"


class SavedChat(BaseModel):
    """A chat as it is saved in `user_data/chats/<id>.json`, exported and imported."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    name: str = Field(DEFAULT_CHAT_NAME, min_length=1, max_length=120)
    created: float = 0.0
    updated: float = 0.0
    mode: Literal["instruct", "chat"] = "instruct"
    character: str | None = Field(None, max_length=120)
    system_prompt: str = Field("", max_length=100_000)
    messages: list[Message] = Field(default_factory=list, max_length=MAX_MESSAGES)


class Notebook(BaseModel):
    """A free-form completion document, saved in `user_data/notebooks/<id>.json`."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    name: str = Field("Untitled notebook", min_length=1, max_length=120)
    text: str = Field("", max_length=2_000_000)
    updated: float = 0.0
