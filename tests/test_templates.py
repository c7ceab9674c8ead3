"""Chat templates render in a sandbox; fallbacks cover models without one."""

from __future__ import annotations

import pytest

from backends.errors import TemplateError
from backends.gguf_info import read_gguf_info
from webui.chat.templates import FALLBACK_TEMPLATES, ChatTemplate, resolve_template

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Capital of France?"},
]


def test_bundled_model_template_renders_chatml(model_path) -> None:
    info = read_gguf_info(model_path)
    template = ChatTemplate(resolve_template(info.chat_template), bos_token=info.bos_token)
    text = template.render(CHAT)
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nCapital of France?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


@pytest.mark.parametrize("name", sorted(FALLBACK_TEMPLATES))
def test_every_fallback_renders_all_turns(name: str) -> None:
    template = ChatTemplate(resolve_template(None, name), bos_token="<s>", eos_token="</s>")
    text = template.render(CHAT)
    for message in CHAT:
        assert message["content"] in text
    assert text.index("Hi") < text.index("Hello!") < text.index("Capital of France?")


@pytest.mark.parametrize("name", sorted(FALLBACK_TEMPLATES))
def test_fallback_prompts_extend_earlier_turns(name: str) -> None:
    """Turn N+1's prompt starts with turn N's conversation: what makes KV-cache reuse work."""
    template = ChatTemplate(resolve_template(None, name), bos_token="<s>", eos_token="</s>")
    earlier = template.render(CHAT[:3], add_generation_prompt=False)
    later = template.render(CHAT, add_generation_prompt=True)
    assert later.startswith(earlier)


def test_no_model_template_means_chatml() -> None:
    assert resolve_template(None) == FALLBACK_TEMPLATES["chatml"]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ messages.__class__.__base__.__subclasses__() }}",
        "{{ raise_exception.__globals__ }}",
        "{% for i in range(10**9) %}x{% endfor %}",
        "{{ messages.append(1) }}",
    ],
)
def test_hostile_templates_raise_a_template_error(source: str) -> None:
    template = ChatTemplate(source)
    with pytest.raises(TemplateError) as caught:
        template.render(CHAT)
    assert "template" in str(caught.value)


def test_syntax_error_is_reported_with_its_line() -> None:
    with pytest.raises(TemplateError, match="line 2"):
        ChatTemplate("ok\n{% for %}")


def test_template_raise_exception_is_a_template_error() -> None:
    template = ChatTemplate("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(TemplateError, match="roles must alternate"):
        template.render(CHAT)
