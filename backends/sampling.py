"""The one sampling parameter type used by the UI, the API, presets and backends."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: The most stop strings a request may carry.
MAX_STOP_STRINGS = 16
#: The longest stop string accepted, in characters.
MAX_STOP_LENGTH = 256


class SamplingParams(BaseModel):
    """How the next token is chosen. Every field has a range and a description.

    Unknown keys and out-of-range values are validation errors naming the key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    temperature: float = Field(
        0.7,
        ge=0.0,
        le=5.0,
        description="Divides the logits before softmax. 0 means greedy (always the most likely token).",
    )
    top_k: int = Field(
        40,
        ge=0,
        le=100_000,
        description="Keep only the k most likely tokens. 0 disables.",
    )
    top_p: float = Field(
        0.95,
        ge=0.0,
        le=1.0,
        description="Keep the smallest set of tokens whose probabilities add up to p. 1 disables.",
    )
    min_p: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Drop tokens whose probability is below min_p times the top token's. 0 disables.",
    )
    repetition_penalty: float = Field(
        1.0,
        ge=0.1,
        le=5.0,
        description="Divides the logits of tokens already seen (>1 discourages repeats). 1 disables.",
    )
    seed: int = Field(
        -1,
        ge=-1,
        le=2**32 - 1,
        description="Random seed; -1 picks a new one for every generation.",
    )
    max_new_tokens: int = Field(
        512,
        ge=1,
        le=131_072,
        description="The most tokens to generate in one reply.",
    )
    stop: tuple[str, ...] = Field(
        (),
        max_length=MAX_STOP_STRINGS,
        description="Generation ends before any of these strings; they are not part of the reply.",
    )

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not item:
                raise ValueError("stop strings must not be empty")
            if len(item) > MAX_STOP_LENGTH:
                raise ValueError(f"stop strings must be at most {MAX_STOP_LENGTH} characters")
        return value

    @property
    def is_greedy(self) -> bool:
        """True when sampling always picks the most likely token."""
        return self.temperature == 0.0 or self.top_k == 1


#: Parameters that reproduce the model's single most likely continuation.
GREEDY = SamplingParams(temperature=0.0, top_k=1, top_p=1.0, min_p=0.0)
