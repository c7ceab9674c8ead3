"""The extension hook system: loading, order, chaining, isolation, params — with small test extensions."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from backends.errors import ExtensionError
from backends.sampling import GREEDY
from tests.fakes import ScriptedBackend
from webui.chat.conversation import Message
from webui.chat.engine import ChatEngine
from webui.chat.templates import ChatTemplate, resolve_template
from webui.extensions.hooks import HOOKS
from webui.extensions.manager import ExtensionManager
from webui.model_manager import LoadedModel, ModelManager

REPO = Path(__file__).resolve().parent.parent


def write_extension(root: Path, name: str, script: str, requirements: str | None = None) -> Path:
    """Create `root/name/script.py` (and requirements.txt)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "script.py").write_text(textwrap.dedent(script), encoding="utf-8")
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements, encoding="utf-8")
    return folder


def scripted_engine(manager: ExtensionManager) -> tuple[ChatEngine, ScriptedBackend]:
    """A chat engine over a scripted backend (ChatML template), calling `manager`'s hooks."""
    backend = ScriptedBackend(context_length=4096)
    models = ModelManager()
    models._loaded = LoadedModel(backend, Path("scripted"), "scripted", ChatTemplate(resolve_template(None)))
    return ChatEngine(models, "SYS", manager), backend


def prompt_text(backend: ScriptedBackend) -> str:
    return "".join(chr(t) for t in backend.requests[-1].prompt)


APPENDER = """
def input_modifier(string, state, is_chat=False):
    return string + "+{name}"

def output_modifier(string, state, is_chat=False):
    return string + "<{name}>"
"""


@pytest.fixture
def ext_dir(tmp_path: Path) -> Path:
    root = tmp_path / "extensions"
    write_extension(root, "alpha", APPENDER.format(name="alpha"))
    write_extension(root, "beta", APPENDER.format(name="beta"))
    return root


def test_every_hook_is_declared_with_a_docstring() -> None:
    names = {hook.name for hook in HOOKS}
    assert {
        "setup", "ui", "params", "custom_css", "custom_js", "history_modifier", "state_modifier",
        "chat_input_modifier", "input_modifier", "bot_prefix_modifier", "custom_generate_chat_prompt",
        "output_modifier", "logits_processor", "register_tools",
    } == names  # fmt: skip
    assert all(len(hook.doc) > 40 for hook in HOOKS)


@pytest.mark.parametrize(("order", "suffix"), [(["alpha", "beta"], "+alpha+beta"), (["beta", "alpha"], "+beta+alpha")])
def test_string_hooks_chain_in_enabled_order(ext_dir: Path, tmp_path: Path, order: list[str], suffix: str) -> None:
    manager = ExtensionManager(ext_dir, tmp_path / "user_data")
    assert manager.enable_all(order) == []
    engine, backend = scripted_engine(manager)
    backend.enqueue("Hi", "!")
    reply = engine.reply([Message(role="user", content="hello")], GREEDY)
    assert "".join(reply) == "Hi!"
    assert f"hello{suffix}<|im_end|>" in prompt_text(backend)
    out = "".join(f"<{name}>" for name in order)
    assert reply.message().content == "Hi!" + out
    assert reply.extension_errors == []


def test_disabled_extension_is_not_called(ext_dir: Path, tmp_path: Path) -> None:
    manager = ExtensionManager(ext_dir, tmp_path / "user_data")
    manager.enable_all(["alpha", "beta"])
    manager.disable("alpha")
    engine, backend = scripted_engine(manager)
    backend.enqueue("ok")
    reply = engine.reply([Message(role="user", content="q")], GREEDY)
    list(reply)
    assert "q+beta<|im_end|>" in prompt_text(backend)
    assert reply.message().content == "ok<beta>"


def test_state_history_prefix_and_custom_prompt_hooks(tmp_path: Path) -> None:
    root = tmp_path / "extensions"
    write_extension(
        root,
        "shaper",
        """
        def state_modifier(state):
            state["max_new_tokens"] = 7
            state["note"] = "from state_modifier"
            return state

        def chat_input_modifier(text, visible_text, state):
            return text.upper(), visible_text

        def history_modifier(history):
            return [m for m in history if m["content"] != "DROP ME"]

        def bot_prefix_modifier(string, state):
            return string + "Sure:"

        def output_modifier(string, state, is_chat=False):
            return string + " [" + state["note"] + "]"
        """,
    )
    write_extension(root, "custom1", "def custom_generate_chat_prompt(user_input, state, **kwargs):\n    return None\n")
    write_extension(
        root,
        "custom2",
        "def custom_generate_chat_prompt(user_input, state, **kwargs):\n"
        "    return f'CUSTOM[{user_input}|{len(kwargs[\"history\"])}]'\n",
    )
    write_extension(root, "custom3", "def custom_generate_chat_prompt(user_input, state, **kwargs):\n    1 / 0\n")
    manager = ExtensionManager(root, tmp_path / "user_data")
    manager.enable_all(["shaper"])
    engine, backend = scripted_engine(manager)
    backend.enqueue(" yes")
    history = [
        Message(role="user", content="DROP ME"),
        Message(role="assistant", content="old"),
        Message(role="user", content="hi"),
    ]
    reply = engine.reply(history, GREEDY)
    list(reply)
    text = prompt_text(backend)
    assert backend.requests[-1].params.max_new_tokens == 7
    assert "DROP ME" not in text and "HI<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\nSure:")
    assert reply.message().content == "Sure: yes [from state_modifier]"

    manager.enable_all(["custom1", "custom2", "custom3"])  # first string wins; custom3 is never reached
    backend.enqueue("x")
    reply = engine.reply([Message(role="user", content="q")], GREEDY)
    list(reply)
    assert prompt_text(backend).startswith("CUSTOM[q|1]Sure:")  # history: the conversation, no system
    assert reply.extension_errors == []


def test_failing_hook_is_skipped_with_visible_error_and_chat_goes_on(ext_dir: Path, tmp_path: Path) -> None:
    write_extension(
        ext_dir,
        "broken",
        """
        def input_modifier(string, state):
            raise RuntimeError("boom")

        def output_modifier(string, state):
            return 42  # not a string
        """,
    )
    manager = ExtensionManager(ext_dir, tmp_path / "user_data")
    manager.enable_all(["alpha", "broken", "beta"])
    engine, backend = scripted_engine(manager)
    backend.enqueue("fine")
    reply = engine.reply([Message(role="user", content="q")], GREEDY)
    assert "".join(reply) == "fine"
    assert "q+alpha+beta<|im_end|>" in prompt_text(backend)
    assert reply.message().content == "fine<alpha><beta>"
    assert len(reply.extension_errors) == 2
    assert all("'broken'" in error for error in reply.extension_errors)
    assert "RuntimeError: boom" in reply.extension_errors[0]
    assert "returned int" in reply.extension_errors[1]
    assert "broken" in manager.errors() and "alpha" not in manager.errors()


def test_import_errors_and_missing_requirements_are_reported_and_others_load(ext_dir: Path, tmp_path: Path) -> None:
    write_extension(ext_dir, "syntax", "def input_modifier(:\n")
    write_extension(ext_dir, "raises", "raise ImportError('no such thing')\n")
    write_extension(
        ext_dir, "needy", "import surely_missing_pkg\n", requirements="# comment\nsurely-missing-pkg>=1.0\nnumpy\n"
    )
    write_extension(ext_dir, "old_numpy", "", requirements="numpy<1.0\n")
    manager = ExtensionManager(ext_dir, tmp_path / "user_data")
    errors = manager.enable_all(["syntax", "alpha", "raises", "needy", "old_numpy"])
    assert manager.enabled == ["alpha"]
    assert len(errors) == 4
    assert "'syntax' failed to import: SyntaxError" in errors[0]
    assert "'raises' failed to import: ImportError: no such thing" in errors[1]
    assert "surely-missing-pkg (not installed)" in errors[2]
    assert "pip install -r extensions/needy/requirements.txt" in errors[2]
    assert "numpy<1.0 (installed:" in errors[3]
    assert set(manager.errors()) == {"syntax", "raises", "needy", "old_numpy"}


@pytest.mark.parametrize("name", ["../alpha", "/tmp/x", "alpha/../beta", "Alpha", "", "a b", "x\x00y", ".."])
def test_extension_names_that_are_paths_are_refused(ext_dir: Path, tmp_path: Path, name: str) -> None:
    manager = ExtensionManager(ext_dir, tmp_path / "user_data")
    with pytest.raises(ExtensionError, match="not a valid extension name"):
        manager.enable(name)


def test_symlink_out_of_the_extensions_folder_is_refused(ext_dir: Path, tmp_path: Path) -> None:
    outside = write_extension(tmp_path / "elsewhere", "evil", "def input_modifier(s):\n    return 'pwned'\n")
    (ext_dir / "evil").symlink_to(outside, target_is_directory=True)
    manager = ExtensionManager(ext_dir, tmp_path / "user_data")
    with pytest.raises(ExtensionError, match="outside"):
        manager.enable("evil")


def test_settings_refuse_path_extension_names() -> None:
    from backends.errors import SettingsError
    from webui.cli import settings_from_args

    assert settings_from_args(["--extensions", "example, rag"]).extensions == ["example", "rag"]
    with pytest.raises(SettingsError, match="extensions"):
        settings_from_args(["--extensions", "../x"])
    with pytest.raises(SettingsError, match="extensions"):
        settings_from_args(["--extensions", "/tmp/x"])


def test_params_are_validated_saved_and_restored(tmp_path: Path) -> None:
    root = tmp_path / "extensions"
    write_extension(
        root,
        "knobs",
        """
        params = {"display_name": "Knobs", "is_tab": False, "on": True, "count": 3, "ratio": 0.5, "word": "hi"}

        def output_modifier(string, state):
            return string + f"|{params['word']}x{params['count']}"
        """,
    )
    data = tmp_path / "user_data"
    manager = ExtensionManager(root, data)
    manager.enable("knobs")
    assert manager.editable_params("knobs") == {"on": True, "count": 3, "ratio": 0.5, "word": "hi"}
    manager.set_params("knobs", {"count": 5, "ratio": 2, "word": "yo", "on": False})
    for bad in ({"count": "many"}, {"on": 1}, {"ratio": float("nan")}, {"display_name": "x"}, {"nope": 1}):
        with pytest.raises(ExtensionError):
            manager.set_params("knobs", bad)
    saved = json.loads((data / "extensions" / "knobs.json").read_text())
    assert saved == {"on": False, "count": 5, "ratio": 2.0, "word": "yo"}

    (data / "extensions" / "knobs.json").write_text(json.dumps({**saved, "count": "bad", "ghost": 1}))
    restarted = ExtensionManager(root, data)  # a new app: saved values come back, bad ones are ignored
    restarted.enable("knobs")
    assert restarted.editable_params("knobs") == {"on": False, "count": 3, "ratio": 2.0, "word": "yo"}
    engine, backend = scripted_engine(restarted)
    backend.enqueue("A")
    reply = engine.reply([Message(role="user", content="q")], GREEDY)
    list(reply)
    assert reply.message().content == "A|yox3"


def test_class_style_extension_tools_css_js_and_setup(tmp_path: Path) -> None:
    root = tmp_path / "extensions"
    write_extension(
        root,
        "classy",
        """
        class Extension:
            def __init__(self, ctx):
                self.ctx = ctx
                self.params = {"greeting": "hello"}
                self.ready = False

            def setup(self):
                self.ready = True

            def register_tools(self):
                def add(a: int, b: int) -> int:
                    "Add two numbers."
                    return a + b
                return [add]

            def custom_css(self):
                return ".classy { color: red; }"

            def custom_js(self):
                return "window.classy = 1;"
        """,
    )
    manager = ExtensionManager(root, tmp_path / "user_data")
    extension = manager.enable("classy")
    assert extension.owner.ready and extension.owner.ctx.data_dir == tmp_path / "user_data" / "extensions" / "classy"
    assert [tool(2, 3) for tool in manager.tools()] == [5]
    assert ".classy" in manager.custom_css()
    assert "window.classy = 1;" in manager.custom_js()
    assert manager.editable_params("classy") == {"greeting": "hello"}


def test_a_text_generation_webui_script_runs_unchanged(tmp_path: Path) -> None:
    """A script written for text-generation-webui (params, input_modifier, output_modifier)."""
    root = tmp_path / "extensions"
    write_extension(
        root,
        "tgw_style",
        '''
        """
        An example of extension. It does nothing, but you can add transformations
        before the return statements to customize the webui behavior.
        """

        params = {
            "display_name": "Shouter",
            "is_tab": False,
            "suffix": " (shouted)",
        }

        def input_modifier(string, state, is_chat=False):
            """
            In default/notebook modes, modifies the whole prompt.
            In chat mode, it is the same as chat_input_modifier but only applied
            to "text", here called "string", and not to "visible_text".
            """
            return string.upper()

        def output_modifier(string, state, is_chat=False):
            """
            Modifies the LLM output before it gets presented.
            """
            if not is_chat:
                return string
            return string + params["suffix"]
        ''',
    )
    manager = ExtensionManager(root, tmp_path / "user_data")
    manager.enable("tgw_style")
    engine, backend = scripted_engine(manager)
    backend.enqueue("ok")
    reply = engine.reply([Message(role="user", content="please answer")], GREEDY)
    list(reply)
    assert "PLEASE ANSWER<|im_end|>" in prompt_text(backend)
    assert reply.message().content == "ok (shouted)"
    assert manager.modify_output("raw", {}, is_chat=False) == "raw"  # the notebook/API completion path
    manager.set_params("tgw_style", {"suffix": "!"})
    assert manager.modify_output("x", {}, is_chat=True) == "x!"


def test_the_bundled_example_extension_loads(tmp_path: Path) -> None:
    manager = ExtensionManager(REPO / "extensions", tmp_path / "user_data")
    assert "example" in manager.available()
    manager.enable("example")
    assert manager.errors() == {}


def test_completion_requests_get_input_modifier_and_logits_processors(ext_dir: Path, tmp_path: Path) -> None:
    write_extension(ext_dir, "proc", "def logits_processor(ids, logits):\n    return logits\n")
    manager = ExtensionManager(ext_dir, tmp_path / "user_data")
    assert manager.completion_request("Once", GREEDY).prompt == "Once"
    manager.enable_all(["alpha", "proc"])
    request = manager.completion_request("Once", GREEDY)
    assert request.prompt == "Once+alpha" and len(request.logits_processors) == 1


def test_extensions_tab_lists_errors_by_name(ext_dir: Path, tmp_path: Path) -> None:
    from webui.app import build_app
    from webui.settings import Settings
    from webui.ui.extensions_tab import extension_status

    write_extension(ext_dir, "broken", "import surely_missing_pkg\n")
    app = build_app(Settings(user_data_dir=tmp_path / "user_data", extensions=["alpha", "broken"]), ext_dir)
    assert app.extensions.enabled == ["alpha"]
    status = extension_status(app)
    assert "**Enabled, in calling order:** alpha" in status
    assert "⚠️ **broken**" in status and "No module named 'surely_missing_pkg'" in status
