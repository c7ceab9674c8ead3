"""The chat engine: a conversation in, a streamed assistant reply out."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from backends.base import GenerationRequest
from backends.sampling import SamplingParams
from webui.chat.conversation import Message, ReplyStats
from webui.chat.prompt import Prompt, build_prompt, reply_reserve
from webui.chat.templates import ChatTemplate
from webui.generation import Completion, GenerationStream
from webui.model_manager import ModelManager


class ChatReply:
    """A streamed reply. Iterate for text deltas; then `message()` is the finished turn."""

    def __init__(self, stream: GenerationStream, prompt: Prompt, prefix: str = "") -> None:
        self.stream = stream
        self.prompt = prompt
        self.prefix = prefix  # the text of the reply being continued, if any

    @property
    def cancel(self) -> threading.Event:
        """Set it from any thread to stop this reply."""
        return self.stream.cancel

    def __iter__(self) -> Iterator[str]:
        return iter(self.stream)

    @property
    def completion(self) -> Completion | None:
        """The generation's summary, once the stream is exhausted."""
        return self.stream.completion

    def message(self) -> Message:
        """The assistant message with its statistics; only valid after iteration."""
        completion = self.stream.completion
        if completion is None:
            raise RuntimeError("the reply has not finished streaming")
        timings = completion.timings
        stats = ReplyStats(
            generated_tokens=timings.generated_tokens,
            tokens_per_second=round(timings.tokens_per_second, 2),
            time_to_first_token=round(completion.time_to_first_token, 3),
            prompt_tokens=timings.prompt_tokens,
            cached_tokens=timings.cached_tokens,
            finish_reason=completion.finish_reason.value,
            truncated_messages=self.prompt.dropped_messages,
            ignored_fields=list(completion.ignored_fields),
        )
        return Message(role="assistant", content=self.prefix + completion.text, stats=stats)


class ChatEngine:
    """Builds prompts with the loaded model's template and streams replies."""

    def __init__(self, models: ModelManager, system_prompt: str = "") -> None:
        self.models = models
        self.system_prompt = system_prompt

    def build_prompt(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        *,
        system_prompt: str | None = None,
        continue_last: bool = False,
        template: ChatTemplate | None = None,
    ) -> Prompt:
        """Render the conversation for the loaded model, fitted to its context.

        `system_prompt` (default: the engine's) is put first unless the
        conversation already starts with a system message; "" means none.
        `template` (default: the loaded model's) renders the conversation.
        """
        loaded = self.models.loaded
        backend = loaded.backend
        caps = backend.capabilities
        system = self.system_prompt if system_prompt is None else system_prompt
        if system and not any(m.role == "system" for m in messages):
            messages = [Message(role="system", content=system), *messages]

        def tokenize(text: str) -> list[int]:
            starts_with_bos = bool(caps.bos_token) and text.startswith(caps.bos_token)
            return backend.tokenize(text, add_bos=caps.add_bos and not starts_with_bos)

        return build_prompt(
            template or loaded.template,
            tokenize,
            messages,
            n_ctx=caps.context_length,
            reserve=reply_reserve(caps.context_length, params.max_new_tokens),
            continue_last=continue_last,
        )

    def reply(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        cancel: threading.Event | None = None,
        *,
        system_prompt: str | None = None,
        continue_last: bool = False,
        template: ChatTemplate | None = None,
        logprobs: int | None = None,
    ) -> ChatReply:
        """Start the assistant's reply to `messages`, or extend the last one (`continue_last`).

        `logprobs` asks for each token's logprob and that many alternatives (see `GenerationRequest`).
        """
        prompt = self.build_prompt(
            messages, params, system_prompt=system_prompt, continue_last=continue_last, template=template
        )
        request = GenerationRequest(prompt=prompt.token_ids, params=params, logprobs=logprobs)
        prefix = messages[-1].content if continue_last else ""
        return ChatReply(self.models.stream(request, cancel), prompt, prefix)
