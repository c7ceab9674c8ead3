"""Chat templates: render a conversation with the model's own Jinja template.

Templates come from model files, so they are untrusted: they run in jinja2's
`ImmutableSandboxedEnvironment`, and any attempt to reach Python internals is an
error rather than an empty string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from backends.errors import TemplateError

#: Templates for models that carry none, by the name users pick them with.
FALLBACK_TEMPLATES: dict[str, str] = {
    "chatml": (
        "{% for message in messages %}"
        "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}"
        "{% for message in messages %}"
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
        " + message['content'] | trim + '<|eot_id|>' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    "mistral": (
        "{{ bos_token }}"
        "{% set system = namespace(text='') %}"
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}{% set system.text = message['content'] + '\n\n' %}"
        "{% elif message['role'] == 'user' %}{{ '[INST] ' + system.text + message['content'] + ' [/INST]' }}"
        "{% set system.text = '' %}"
        "{% else %}{{ message['content'] + eos_token }}{% endif %}"
        "{% endfor %}"
    ),
    "alpaca": (
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}{{ message['content'] + '\n\n' }}"
        "{% elif message['role'] == 'user' %}{{ '### Instruction:\n' + message['content'] + '\n\n' }}"
        "{% else %}{{ '### Response:\n' + message['content'] + '\n\n' }}{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '### Response:\n' }}{% endif %}"
    ),
    "gemma": (
        "{{ bos_token }}"
        "{% set system = namespace(text='') %}"
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}{% set system.text = message['content'] + '\n\n' %}"
        "{% else %}"
        "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
        "{{ '<start_of_turn>' + role + '\n' + (system.text if role == 'user' else '')"
        " + message['content'] | trim + '<end_of_turn>\n' }}"
        "{% if role == 'user' %}{% set system.text = '' %}{% endif %}"
        "{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
    ),
}

#: The fallback used when a model has no template and the user chose none.
DEFAULT_FALLBACK = "chatml"


class _StrictSandbox(ImmutableSandboxedEnvironment):
    """A sandbox where touching an unsafe attribute fails instead of rendering ''."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} is not allowed")


def _raise_exception(message: str) -> None:
    raise TemplateError(f"the chat template refused the conversation: {message}")


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, **kwargs: Any) -> str:
    """transformers' `tojson`: plain JSON text (jinja2's own returns Markup, which HTML-escapes on `+`)."""
    separators = kwargs.get("separators")
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=False)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def resolve_template(model_template: str | None, override: str | None = None) -> str:
    """Pick the template source: a named fallback, a literal override, or the model's own."""
    if override:
        return FALLBACK_TEMPLATES.get(override, override)
    return model_template or FALLBACK_TEMPLATES[DEFAULT_FALLBACK]


class ChatTemplate:
    """A chat template compiled once in the sandbox, rendered per request."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        """Compile `source`; raise `TemplateError` if it is not valid Jinja."""
        env = _StrictSandbox(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        env.filters["tojson"] = _tojson
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token
        try:
            self._compiled = env.from_string(source)
        except TemplateSyntaxError as exc:
            raise TemplateError(f"the chat template has a syntax error on line {exc.lineno}: {exc.message}") from exc

    def render(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        add_generation_prompt: bool = True,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> str:
        """Render `messages` (and `tools`, OpenAI format, if given); raise `TemplateError` on failure."""
        extra: dict[str, Any] = {"tools": [dict(t) for t in tools]} if tools else {}
        try:
            return self._compiled.render(
                messages=[dict(m) for m in messages],
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                add_generation_prompt=add_generation_prompt,
                **extra,
            )
        except TemplateError:
            raise
        except SecurityError as exc:
            raise TemplateError(f"the chat template tried something the sandbox forbids: {exc}") from exc
        except (JinjaTemplateError, TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
            raise TemplateError(f"the chat template failed to render: {exc}") from exc
