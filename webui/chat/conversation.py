"""A conversation: role-tagged messages, plus what the UI shows under replies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]


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
