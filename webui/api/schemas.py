"""Request and response bodies of the API, with OpenAI's field names and strict ranges.

Jielong's own sampling fields (`min_p`, `top_k`, `repetition_penalty`, ...) are
accepted next to OpenAI's, with the ranges of `SamplingParams`; any other unknown
field is an error naming it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, field_validator
from pydantic.fields import FieldInfo

from backends.base import MAX_TOP_LOGPROBS
from backends.sampling import MAX_STOP_STRINGS, SamplingParams

#: SamplingParams fields that OpenAI's own request fields stand for (not accepted under these names).
OPENAI_MAPPED = frozenset({"max_new_tokens", "temperature", "top_p", "presence_penalty", "frequency_penalty"})
OPENAI_MAPPED |= {"seed", "stop", "logit_bias", "json_schema"}
#: Jielong's extra sampling fields a request may set.
EXTRA_SAMPLING = tuple(name for name in SamplingParams.model_fields if name not in OPENAI_MAPPED)
MAX_TOKENS = SamplingParams.model_fields["max_new_tokens"].metadata[-1].le  # type: ignore[attr-defined]
MAX_MESSAGES = 4096
MAX_CONTENT = 2_000_000
MAX_BATCH = 256
Stop = str | Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=MAX_STOP_STRINGS)]


def _optional(info: FieldInfo) -> tuple[Any, Any]:
    annotation = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return annotation | None, Field(None, description=info.description)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


#: Jielong's sampling fields, all optional, with SamplingParams' ranges (a base class of the requests).
JielongSampling = create_model(  # type: ignore[call-overload]
    "JielongSampling",
    __base__=_Strict,
    **{name: _optional(SamplingParams.model_fields[name]) for name in EXTRA_SAMPLING},
)


class GenerationFields(JielongSampling):  # type: ignore[misc, valid-type]
    """The fields chat and text completions share."""

    model: str = Field(..., min_length=1, max_length=512, description="A model id from GET /v1/models.")
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS, description="The most tokens to generate.")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    n: int = Field(1, ge=1, le=1, description="Only one choice per request is generated.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: Stop | None = None
    seed: int | None = Field(None, ge=-1, le=2**32 - 2)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    logit_bias: dict[int, Annotated[float, Field(ge=-100, le=100)]] | None = Field(None, max_length=1024)
    user: str | None = Field(None, max_length=256, description="Accepted and ignored (OpenAI compatibility).")
    preset: str | None = Field(
        None, max_length=64, description="A preset from presets/ as the base; the request's own fields win."
    )


class StreamOptions(_Strict):
    """Streaming options."""

    include_usage: bool = False


class TextPart(_Strict):
    """A text part of a message's content."""

    type: Literal["text"]
    text: str = Field(max_length=MAX_CONTENT)


class FunctionCall(_Strict):
    """The function an assistant message called: its name and JSON-encoded arguments."""

    name: str = Field(..., min_length=1, max_length=64)
    arguments: str = Field("{}", max_length=MAX_CONTENT)


class MessageToolCall(_Strict):
    """One entry of an assistant message's `tool_calls`."""

    id: str = Field(..., min_length=1, max_length=128)
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Strict):
    """One message of the conversation. `developer` is treated as `system`; `tool` carries a tool's result."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | Annotated[list[TextPart], Field(max_length=256)] | None = Field(
        ..., description="Text, or text parts (null only on an assistant message, e.g. one with tool_calls)."
    )
    name: str | None = Field(None, max_length=64)
    tool_calls: list[MessageToolCall] | None = Field(None, max_length=128)
    tool_call_id: str | None = Field(None, max_length=128)

    @field_validator("content")
    @classmethod
    def _null_only_for_assistant(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.data.get("role") != "assistant":
            raise ValueError("must not be null (only an assistant message may have no content)")
        return value

    def text(self) -> str:
        """The content as one string."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class JsonSchemaFormat(_Strict):
    """OpenAI's `response_format.json_schema` object."""

    name: str = Field("response", max_length=64)
    description: str | None = Field(None, max_length=10_000)
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ResponseFormat(_Strict):
    """`text`, `json_object` (any JSON object) or `json_schema` (output validates), enforced by a grammar."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class ChatCompletionRequest(GenerationFields):
    """POST /v1/chat/completions."""

    messages: list[ChatMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS, description="Newer name of max_tokens.")
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    response_format: ResponseFormat | None = None
    chat_template: str | None = Field(
        None, max_length=32, description="A named fallback template (chatml, llama3, ...) instead of the model's."
    )
    continue_last: bool = Field(False, description="Extend the last (assistant) message instead of a new reply.")
    tools: list[dict[str, Any]] | None = Field(
        None, max_length=128, description='Functions the model may call: [{"type": "function", "function": {...}}].'
    )
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] | None = Field(
        None, description='"auto" (default), "none", "required", or {"type": "function", "function": {"name": ...}}.'
    )
    parallel_tool_calls: bool | None = None


class CompletionRequest(GenerationFields):
    """POST /v1/completions (text in, text out)."""

    prompt: (
        str
        | Annotated[list[str], Field(min_length=1, max_length=1)]
        | Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=1_048_576)]
    ) = Field(..., description="Text, a list of one text, or token ids.")
    echo: bool = False
    logprobs: int | None = Field(None, ge=0, le=MAX_TOP_LOGPROBS, description="Alternatives per token (0..20).")
    best_of: int | None = Field(None, ge=1, le=1)
    suffix: None = Field(None, description="Not supported (fill-in-the-middle).")


class EmbeddingRequest(_Strict):
    """POST /v1/embeddings."""

    model: str = Field(..., min_length=1, max_length=512)
    input: str | Annotated[list[Annotated[str, Field(max_length=100_000)]], Field(min_length=1, max_length=MAX_BATCH)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, le=4096)
    user: str | None = Field(None, max_length=256)


class TokenizeRequest(_Strict):
    """POST /v1/internal/tokenize and /v1/internal/token-count."""

    text: str = Field(..., max_length=MAX_CONTENT)
    add_special: bool = Field(False, description="Add the model's BOS token like a prompt would.")


class DetokenizeRequest(_Strict):
    """POST /v1/internal/detokenize."""

    tokens: list[Annotated[int, Field(ge=0, le=2**31 - 1)]] = Field(..., max_length=1_048_576)


GenerationFields.model_rebuild()
ChatCompletionRequest.model_rebuild()
CompletionRequest.model_rebuild()
