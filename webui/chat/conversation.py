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


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: str = Field(max_length=2_000_000)
    stats: ReplyStats | None = None

    def as_template_input(self) -> dict[str, str]:
        """The mapping a chat template expects."""
        return {"role": self.role, "content": self.content}
