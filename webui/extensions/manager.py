"""The enabled extensions and the calling of their hooks (see `webui.extensions.hooks`).

`ExtensionManager` is held by the `App`. The chat engine (`ChatEngine.reply`) calls it
for every reply, so the UI and the API get the same hooks. Raw completions (the notebook,
a completions route) build their request with `completion_request` (input_modifier +
logits processors) and may pass the finished text through `modify_output`.
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from backends.base import GenerationRequest
from backends.errors import ExtensionError
from backends.sampling import SamplingParams
from webui.embeddings import Embedder
from webui.extensions.hooks import HOOKS_BY_NAME, RESERVED_PARAMS
from webui.extensions.loader import available_extensions, check_name, import_extension
from webui.storage import atomic_write_text

log = logging.getLogger(__name__)

#: How many recent errors are kept per extension.
MAX_ERRORS = 20
MAX_PARAM_TEXT = 10_000
LogitsProcessor = Callable[[Sequence[int], np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ExtensionContext:
    """What an `Extension` class receives: its name, its folder and a data folder of its own."""

    name: str
    folder: Path
    data_dir: Path  # user_data/extensions/<name>/: the extension's own files (created on demand)
    user_data_dir: Path  # the whole user-data folder (--user-data-dir)
    embedder: Embedder  # the App's all-MiniLM-L6-v2 embedder (loaded on first use, shared)


@dataclass(frozen=True)
class UIContext:
    """What a `ui(ctx)` hook receives while the Chat tab is built."""

    chat_state: Any  # the Chat tab's gr.State (a ChatView); use it as an event input

    @staticmethod
    def chat_id(view: Any) -> str | None:
        """The id of the chat open in `view` (None while it is unsaved)."""
        return getattr(view, "chat_id", None)


@dataclass
class LoadedExtension:
    """An imported extension: its module, the object whose attributes are its hooks, its params."""

    name: str
    module: ModuleType
    owner: Any
    params: dict[str, Any]
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_ERRORS))

    def hook(self, name: str) -> Callable[..., Any] | None:
        """The extension's implementation of hook `name`, if it has one."""
        func = getattr(self.owner, name, None)
        return func if callable(func) else None


def _positional_count(func: Callable[..., Any]) -> tuple[int, bool]:
    """How many parameters besides `is_chat` a hook takes, and whether it takes `is_chat`."""
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return 1, False
    names = [n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return len([n for n in names if n != "is_chat"]), "is_chat" in names


class ExtensionManager:
    """Loads extensions from `extensions_dir`, keeps the enabled ones in order, calls their hooks."""

    def __init__(self, extensions_dir: Path, user_data_dir: Path, embedder: Embedder | None = None) -> None:
        self.extensions_dir = extensions_dir
        self.embedder = embedder or Embedder()
        self.user_data_dir = user_data_dir
        self.data_dir = user_data_dir / "extensions"
        self._lock = threading.RLock()
        self._loaded: dict[str, LoadedExtension] = {}
        self._enabled: list[str] = []
        self._load_errors: dict[str, str] = {}

    # ---- enabling ------------------------------------------------------------------------

    def available(self) -> list[str]:
        """Every extension folder found (enabled or not)."""
        return available_extensions(self.extensions_dir)

    @property
    def enabled(self) -> list[str]:
        """The enabled extensions, in calling order."""
        with self._lock:
            return list(self._enabled)

    def enable(self, name: str) -> LoadedExtension:
        """Import (once), restore saved params, run `setup`, and append `name` to the enabled list."""
        check_name(name)
        with self._lock:
            if name in self._enabled:
                return self._loaded[name]
            try:
                extension = self._loaded.get(name) or self._load(name)
            except ExtensionError as exc:
                self._load_errors[name] = str(exc)
                log.error("%s", exc)
                raise
            self._load_errors.pop(name, None)
            self._enabled.append(name)
            log.info("extension %s enabled", name)
            return extension

    def enable_all(self, names: Sequence[str]) -> list[str]:
        """Enable each of `names`; return the errors (the others still load)."""
        errors = []
        for name in names:
            try:
                self.enable(name)
            except ExtensionError as exc:
                errors.append(str(exc))
        return errors

    def disable(self, name: str) -> None:
        """Stop calling the hooks of `name` (its module stays imported, its params saved)."""
        with self._lock:
            if name in self._enabled:
                self._enabled.remove(name)
                log.info("extension %s disabled", name)

    def set_enabled(self, names: Sequence[str]) -> list[str]:
        """Make exactly `names` enabled (new ones appended in the given order); return load errors."""
        for name in self.enabled:
            if name not in names:
                self.disable(name)
        return self.enable_all([name for name in names if name not in self.enabled])

    def _load(self, name: str) -> LoadedExtension:
        module = import_extension(self.extensions_dir, name)
        owner: Any = module
        if inspect.isclass(getattr(module, "Extension", None)):
            folder = (self.extensions_dir / name).resolve()
            context = ExtensionContext(name, folder, self.data_dir / name, self.user_data_dir, self.embedder)
            try:
                owner = module.Extension(context)
            except Exception as exc:
                raise ExtensionError(f"extension {name!r}: Extension() failed: {type(exc).__name__}: {exc}") from exc
        params = getattr(owner, "params", None)
        if not isinstance(params, dict):
            params = {}
        extension = LoadedExtension(name, module, owner, params)
        self._restore_params(extension)
        setup = extension.hook("setup")
        if setup is not None:
            try:
                setup()
            except Exception as exc:
                raise ExtensionError(f"extension {name!r}: setup() failed: {type(exc).__name__}: {exc}") from exc
        self._loaded[name] = extension
        return extension

    def get(self, name: str) -> LoadedExtension | None:
        """The loaded extension `name`, enabled or not."""
        with self._lock:
            return self._loaded.get(name)

    def _active(self) -> list[LoadedExtension]:
        with self._lock:
            return [self._loaded[name] for name in self._enabled]

    # ---- errors --------------------------------------------------------------------------

    def report(self, extension: LoadedExtension, hook: str, exc: BaseException | str, errors: list | None) -> None:
        """Log and remember a failure of `extension` in `hook` (the hook's result is skipped)."""
        detail = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        message = f"extension {extension.name!r}, {hook}: {detail} (skipped)"
        log.error("%s", message, exc_info=exc if isinstance(exc, BaseException) else None)
        extension.errors.append(message)
        if errors is not None:
            errors.append(message)

    def errors(self) -> dict[str, list[str]]:
        """Load errors and recent hook errors, per extension name."""
        with self._lock:
            result = {name: [message] for name, message in self._load_errors.items()}
            for name, extension in self._loaded.items():
                if extension.errors:
                    result.setdefault(name, []).extend(extension.errors)
            return result

    # ---- params --------------------------------------------------------------------------

    def _params_path(self, name: str) -> Path:
        return self.data_dir / f"{check_name(name)}.json"

    def _restore_params(self, extension: LoadedExtension) -> None:
        path = self._params_path(extension.name)
        if not path.is_file():
            return
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            log.warning("extension %s: saved params %s ignored (%s)", extension.name, path, exc)
            return
        for key, value in saved.items():
            try:
                extension.params[key] = _checked_value(extension.params, key, value)
            except ExtensionError as exc:
                log.warning("extension %s: saved param ignored: %s", extension.name, exc)

    def editable_params(self, name: str) -> dict[str, bool | int | float | str]:
        """The params of `name` the UI may edit (bool, int, float, str; not display_name/is_tab)."""
        extension = self.get(name)
        if extension is None:
            return {}
        return {
            key: value
            for key, value in extension.params.items()
            if key not in RESERVED_PARAMS and not key.startswith("_") and isinstance(value, bool | int | float | str)
        }

    def set_params(self, name: str, values: dict[str, Any]) -> dict[str, Any]:
        """Validate `values` against the defaults' types, apply them and save them; return the params."""
        extension = self.get(name)
        if extension is None:
            raise ExtensionError(f"extension {name!r} is not loaded")
        checked = {key: _checked_value(self.editable_params(name), key, value) for key, value in values.items()}
        with self._lock:
            extension.params.update(checked)
            saved = self.editable_params(name)
            atomic_write_text(self._params_path(name), json.dumps(saved, indent=2, ensure_ascii=False))
        return dict(extension.params)

    # ---- hook calls ----------------------------------------------------------------------

    def _implementations(self, hook: str) -> list[tuple[LoadedExtension, Callable[..., Any]]]:
        assert hook in HOOKS_BY_NAME, hook
        found = []
        for extension in self._active():
            func = extension.hook(hook)
            if func is not None:
                found.append((extension, func))
        return found

    def _call_collect(self, extension: LoadedExtension, hook: str) -> list[Any]:
        func = extension.hook(hook)
        if func is None:
            return []
        try:
            result = func()
        except Exception as exc:
            self.report(extension, hook, exc, None)
            return []
        if result is None:
            return []
        return list(result) if isinstance(result, list | tuple) else [result]

    def _string_hook(self, hook: str, text: str, state: dict, is_chat: bool, errors: list | None) -> str:
        for extension, func in self._implementations(hook):
            count, takes_is_chat = _positional_count(func)
            args = (text, state) if count >= 2 else (text,)
            kwargs = {"is_chat": is_chat} if takes_is_chat else {}
            try:
                result = func(*args, **kwargs)
            except Exception as exc:
                self.report(extension, hook, exc, errors)
                continue
            if not isinstance(result, str):
                self.report(extension, hook, f"returned {type(result).__name__}, not str", errors)
                continue
            text = result
        return text

    def modify_state(self, state: dict[str, Any], errors: list | None = None) -> dict[str, Any]:
        """Chain `state_modifier` over `state`."""
        for extension, func in self._implementations("state_modifier"):
            try:
                result = func(state)
            except Exception as exc:
                self.report(extension, "state_modifier", exc, errors)
                continue
            if isinstance(result, dict):
                state = result
            else:
                self.report(extension, "state_modifier", f"returned {type(result).__name__}, not dict", errors)
        return state

    def modify_chat_input(
        self, text: str, visible_text: str, state: dict[str, Any], errors: list | None = None
    ) -> tuple[str, str]:
        """Chain `chat_input_modifier` over the last user message."""
        for extension, func in self._implementations("chat_input_modifier"):
            try:
                result = func(text, visible_text, state)
                new_text, new_visible = result
                if not isinstance(new_text, str) or not isinstance(new_visible, str):
                    raise TypeError("must return (text, visible_text), two strings")
            except Exception as exc:
                self.report(extension, "chat_input_modifier", exc, errors)
                continue
            text, visible_text = new_text, new_visible
        return text, visible_text

    def modify_input(self, text: str, state: dict[str, Any], is_chat: bool = False, errors: list | None = None) -> str:
        """Chain `input_modifier` over the text sent to the model (the API calls this for completions too)."""
        return self._string_hook("input_modifier", text, state, is_chat, errors)

    def modify_output(self, text: str, state: dict[str, Any], is_chat: bool = False, errors: list | None = None) -> str:
        """Chain `output_modifier` over a finished reply."""
        return self._string_hook("output_modifier", text, state, is_chat, errors)

    def bot_prefix(self, state: dict[str, Any], errors: list | None = None) -> str:
        """Chain `bot_prefix_modifier`, starting from ''."""
        return self._string_hook("bot_prefix_modifier", "", state, True, errors)

    def modify_history(self, history: list[dict[str, str]], errors: list | None = None) -> list[dict[str, str]]:
        """Chain `history_modifier` over the conversation (role/content dicts)."""
        for extension, func in self._implementations("history_modifier"):
            try:
                result = func([dict(item) for item in history])
                if not isinstance(result, list) or not all(
                    isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in result
                ):
                    raise TypeError("must return a list of {'role': str, 'content': str} dicts")
            except Exception as exc:
                self.report(extension, "history_modifier", exc, errors)
                continue
            history = result
        return history

    def custom_prompt(
        self, user_input: str, state: dict[str, Any], history: list[dict[str, str]], errors: list | None = None
    ) -> str | None:
        """The first `custom_generate_chat_prompt` result that is a string, else None."""
        for extension, func in self._implementations("custom_generate_chat_prompt"):
            try:
                result = func(user_input, state, history=history)
            except Exception as exc:
                self.report(extension, "custom_generate_chat_prompt", exc, errors)
                continue
            if isinstance(result, str):
                return result
            if result is not None:
                self.report(extension, "custom_generate_chat_prompt", "returned neither str nor None", errors)
        return None

    def logits_processors(self, errors: list | None = None) -> tuple[LogitsProcessor, ...]:
        """Fresh, failure-isolated wrappers of every enabled `logits_processor`, in order."""
        return tuple(
            _GuardedProcessor(self, extension, func, errors)
            for extension, func in self._implementations("logits_processor")
        )

    def completion_request(
        self, prompt: str, params: SamplingParams, state: dict[str, Any] | None = None, errors: list | None = None
    ) -> GenerationRequest:
        """A raw-completion request (notebook, a completions API) with `input_modifier` and logits processors."""
        if not self.enabled:
            return GenerationRequest(prompt=prompt, params=params)
        hook_state = {**params.model_dump(), "mode": "notebook", **(state or {})}
        text = self.modify_input(prompt, hook_state, is_chat=False, errors=errors)
        return GenerationRequest(prompt=text, params=params, logits_processors=self.logits_processors(errors))

    def tools(self) -> list[Any]:
        """Every enabled extension's `register_tools()` results, in order."""
        found: list[Any] = []
        for extension in self._active():
            found.extend(self._call_collect(extension, "register_tools"))
        return found

    def custom_css(self) -> str:
        """All enabled extensions' CSS, concatenated."""
        return "\n".join(self._texts("custom_css"))

    def custom_js(self) -> str:
        """All enabled extensions' JavaScript, each in its own try block."""
        return "\n".join(f"try {{\n{code}\n}} catch (e) {{ console.error(e); }}" for code in self._texts("custom_js"))

    def _texts(self, hook: str) -> list[str]:
        texts = []
        for extension in self._active():
            texts.extend(item for item in self._call_collect(extension, hook) if isinstance(item, str))
        return texts

    def render_ui(self, name: str, context: UIContext) -> bool:
        """Build the `ui` block of extension `name` (inside the caller's layout); False if it has none or failed."""
        extension = self.get(name)
        func = extension.hook("ui") if extension else None
        if extension is None or func is None:
            return False
        try:
            count, _ = _positional_count(func)
            func(context) if count >= 1 else func()
        except Exception as exc:
            self.report(extension, "ui", exc, None)
            return False
        return True


class _GuardedProcessor:
    """One extension's logits processor for one generation; dropped after its first failure."""

    def __init__(self, manager: ExtensionManager, extension: LoadedExtension, func: Callable, errors: list | None):
        self.manager, self.extension, self.func, self.errors = manager, extension, func, errors
        self.failed = False

    def __call__(self, token_ids: Sequence[int], logits: np.ndarray) -> np.ndarray:
        if self.failed:
            return logits
        try:
            result = self.func(token_ids, logits)
            result = np.asarray(result, dtype=np.float32)
            if result.shape != logits.shape:
                raise ValueError(f"returned shape {result.shape}, expected {logits.shape}")
        except Exception as exc:
            self.failed = True
            self.manager.report(self.extension, "logits_processor", exc, self.errors)
            return logits
        return result


def _checked_value(defaults: dict[str, Any], key: str, value: Any) -> Any:
    """`value` for param `key` if it has the default's type (ints accepted for floats), else raise."""
    if key not in defaults or key in RESERVED_PARAMS or key.startswith("_"):
        raise ExtensionError(f"unknown or read-only param {key!r}")
    default = defaults[key]
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str) and len(value) <= MAX_PARAM_TEXT:
            return value
    else:
        raise ExtensionError(f"param {key!r} is not editable")
    raise ExtensionError(f"param {key!r} must be a {type(default).__name__} (got {value!r:.60})")
