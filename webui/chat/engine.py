"""The chat engine: a conversation in, a streamed assistant reply out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from backends.base import GenerationRequest
from backends.errors import ContextLengthExceeded, InvalidRequest
from backends.sampling import ALL_FIELDS, SamplingParams
from webui.chat.conversation import Message, ReplyStats
from webui.chat.prompt import Prompt, TemplateInputs, build_prompt, reply_reserve
from webui.chat.templates import ChatTemplate
from webui.extensions.manager import ExtensionManager
from webui.generation import Completion, GenerationStream
from webui.model_manager import ModelManager


class ChatReply:
    """A streamed reply. Iterate for text deltas; then `message()` is the finished turn."""

    def __init__(
        self,
        stream: GenerationStream,
        prompt: Prompt,
        prefix: str = "",
        finish: Callable[[str], str] | None = None,
        extension_errors: list[str] | None = None,
    ) -> None:
        self.stream = stream
        self.prompt = prompt
        self.prefix = prefix  # the text of the reply being continued (or the bot prefix), if any
        self._finish = finish  # the extensions' output_modifier chain
        self._final_text: str | None = None
        #: Extension hook failures during this reply (each hook was skipped; the reply went on).
        self.extension_errors = extension_errors if extension_errors is not None else []

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
        if self._final_text is None:
            text = self.prefix + completion.text
            self._final_text = self._finish(text) if self._finish is not None else text
        return Message(role="assistant", content=self._final_text, stats=stats)


class ChatEngine:
    """Builds prompts with the loaded model's template and streams replies."""

    def __init__(
        self, models: ModelManager, system_prompt: str = "", extensions: ExtensionManager | None = None
    ) -> None:
        self.models = models
        self.system_prompt = system_prompt
        self.extensions = extensions

    def build_prompt(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        *,
        system_prompt: str | None = None,
        continue_last: bool = False,
        tools: Sequence[Mapping[str, Any]] | None = None,
        to_inputs: TemplateInputs | None = None,
        template: ChatTemplate | None = None,
    ) -> Prompt:
        """Render the conversation for the loaded model, fitted to its context.

        `system_prompt` (default: the engine's) is put first unless the
        conversation already starts with a system message; "" means none.
        `tools` and `to_inputs` are passed to `build_prompt` (tool use).
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
            tools=tools,
            to_inputs=to_inputs,
        )

    def reply(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        cancel: threading.Event | None = None,
        *,
        system_prompt: str | None = None,
        continue_last: bool = False,
        state: dict[str, Any] | None = None,
        template: ChatTemplate | None = None,
        logprobs: int | None = None,
    ) -> ChatReply:
        """Start the assistant's reply to `messages`, or extend the last one (`continue_last`).

        The enabled extensions' hooks run here, for the UI and the API alike: state, chat input,
        input, history, custom prompt, bot prefix, logits processors, and (in `ChatReply.message`)
        output. `state` adds keys to the hooks' state dict (e.g. `chat_id`, `mode`).
        `template` (default: the loaded model's) renders the conversation; `logprobs` asks for each
        token's logprob and that many alternatives (see `GenerationRequest`).
        """
        ext = self.extensions
        if ext is None or not ext.enabled:
            prompt = self.build_prompt(
                messages, params, system_prompt=system_prompt, continue_last=continue_last, template=template
            )
            request = GenerationRequest(prompt=prompt.token_ids, params=params, logprobs=logprobs)
            prefix = messages[-1].content if continue_last else ""
            return ChatReply(self.models.stream(request, cancel), prompt, prefix)
        errors: list[str] = []
        system = self.system_prompt if system_prompt is None else system_prompt
        hook_state = ext.modify_state(reply_state(params, system, state), errors)
        params = params_from_state(params, hook_state)
        messages = list(messages)
        user_input = ""
        if messages and messages[-1].role == "user" and not continue_last:
            user_input = messages[-1].content
            text, _ = ext.modify_chat_input(user_input, user_input, hook_state, errors)
            text = ext.modify_input(text, hook_state, is_chat=True, errors=errors)
            messages[-1] = messages[-1].model_copy(update={"content": text})
        history = ext.modify_history([m.as_template_input() for m in messages], errors)
        try:
            messages = [Message(role=m["role"], content=m["content"]) for m in history]
        except ValidationError as exc:
            raise InvalidRequest(f"an extension's history_modifier returned an invalid history: {exc}") from exc
        custom = ext.custom_prompt(user_input, hook_state, history, errors) if not continue_last else None
        if custom is not None:
            prompt = self._custom_prompt(custom, params)
        else:
            prompt = self.build_prompt(
                messages, params, system_prompt=system_prompt, continue_last=continue_last, template=template
            )
        prefix = messages[-1].content if continue_last else ext.bot_prefix(hook_state, errors)
        token_ids = list(prompt.token_ids)
        if prefix and not continue_last:
            token_ids += self.models.loaded.backend.tokenize(prefix, add_bos=False, special=False)
        request = GenerationRequest(
            prompt=token_ids, params=params, logits_processors=ext.logits_processors(errors), logprobs=logprobs
        )

        def finish(text: str) -> str:
            return ext.modify_output(text, hook_state, is_chat=True, errors=errors)

        return ChatReply(self.models.stream(request, cancel), prompt, prefix, finish, errors)

    def _custom_prompt(self, text: str, params: SamplingParams) -> Prompt:
        backend = self.models.loaded.backend
        caps = backend.capabilities
        ids = backend.tokenize(text, add_bos=caps.add_bos and not (caps.bos_token and text.startswith(caps.bos_token)))
        reserve = reply_reserve(caps.context_length, params.max_new_tokens)
        if len(ids) > caps.context_length - reserve:
            raise ContextLengthExceeded(
                f"the extension's custom prompt has {len(ids)} tokens; {caps.context_length - reserve} fit"
            )
        return Prompt(text=text, token_ids=ids, dropped_messages=0)


def reply_state(params: SamplingParams, system_prompt: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    """The `state` dict extension hooks receive: the sampling fields plus what the caller adds."""
    state: dict[str, Any] = params.model_dump()
    state.update(mode="instruct", system_prompt=system_prompt, name1="You", name2="Assistant", chat_id=None)
    state.update(extra or {})
    return state


def params_from_state(params: SamplingParams, state: dict[str, Any]) -> SamplingParams:
    """`params` with the sampling fields a `state_modifier` changed; `InvalidRequest` if they are invalid."""
    current = params.model_dump()
    changed = {key: state[key] for key in ALL_FIELDS if key in state and state[key] != current[key]}
    if not changed:
        return params
    try:
        return SamplingParams.model_validate({**params.model_dump(include=params.model_fields_set), **changed})
    except ValidationError as exc:
        raise InvalidRequest(f"an extension set invalid sampling parameters: {exc}") from exc
