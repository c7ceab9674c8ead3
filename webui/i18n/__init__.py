"""The UI in English and Simplified Chinese: one catalogue per language, keyed the same.

Static text (labels, buttons, Markdown) uses `t("key")`: Gradio's `gr.I18n` translates it in the
browser, from the browser's language or the language picked in Gradio's Settings panel (footer).
Text the server makes (chart captions, messages) uses `text("key", lang)` with `lang` from
`language_of(request)`.

To add a string: put the key in `en.py` and `zh_cn.py` (a test checks that both have the same keys
and that every key passed to `t` in webui/ exists), then pass `label=t(KEY)`.
"""

from __future__ import annotations

from typing import Any

from webui.i18n.en import STRINGS as EN
from webui.i18n.zh_cn import STRINGS as ZH_CN

#: Catalogues by BCP 47 locale; "zh" catches browsers that send only the language.
CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "zh-CN": ZH_CN, "zh": ZH_CN}


def t(key: str) -> Any:
    """A translatable label for a Gradio component (the browser picks the language)."""
    from gradio.i18n import I18nData

    return I18nData(key)


def build_i18n() -> Any:
    """The `gr.I18n` to pass to `launch(i18n=...)`."""
    import gradio as gr

    return gr.I18n(**CATALOGUES)


def language_of(request: Any) -> str:
    """ "zh-CN" when the browser prefers Chinese (its Accept-Language), else "en"."""
    headers = getattr(request, "headers", None) or {}
    accepted = str(headers.get("accept-language", "")).lower()
    return "zh-CN" if accepted.startswith("zh") else "en"


def text(key: str, lang: str = "en", **values: object) -> str:
    """Server-made text in `lang` (English when the key or language is missing)."""
    template = CATALOGUES.get(lang, EN).get(key) or EN.get(key, key)
    return template.format(**values) if values else template
