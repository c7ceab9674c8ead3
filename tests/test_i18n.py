"""The English and Chinese catalogues: same keys, every key the UI asks for exists, placeholders agree."""

from __future__ import annotations

import re
import string
from types import SimpleNamespace

from backends.sampling import SamplingParams
from tests.conftest import REPO
from webui.i18n import CATALOGUES, language_of, text
from webui.i18n.en import STRINGS as EN
from webui.i18n.zh_cn import STRINGS as ZH_CN


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    assert set(EN) == set(ZH_CN)
    for key in EN:
        assert fields(EN[key]) == fields(ZH_CN[key]), key
        assert ZH_CN[key] != EN[key] or key.startswith("learn.msg"), f"{key} is not translated"


def test_every_key_used_in_the_ui_exists() -> None:
    used: set[str] = set()
    for path in (REPO / "webui").rglob("*.py"):
        if path.parent.name == "i18n":  # its docstrings show the calls with placeholder keys
            continue
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']\s*\)""", source))
        used |= set(re.findall(r"""\btr\(\s*["']([\w.]+)["']""", source))
    assert len(used) > 50
    assert used - set(EN) == set()
    groups = {f"params.group.{g}" for g in ("Basics", "Repetition", "Advanced", "Constrained output")}
    assert groups <= set(EN)  # built with f-strings in parameters_tab
    assert {f"param.{name}" for name in SamplingParams.model_fields} <= set(EN)


def test_server_text_follows_the_browser_language() -> None:
    request = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert language_of(request) == "zh-CN"
    assert language_of(None) == "en"
    assert text("learn.msg.tokens_possible", "zh-CN", count=3) == "3 个 token 可选"
    assert text("learn.msg.tokens_possible", "fr", count=3) == "3 tokens possible"
    assert CATALOGUES["zh"] is CATALOGUES["zh-CN"]
