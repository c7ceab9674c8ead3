"""The application object: everything the UI and API share, built once in server.py."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from backends.errors import AppError
from backends.sampling import SamplingParams
from webui.chat.characters import CharacterLibrary
from webui.chat.conversation import Notebook
from webui.chat.engine import ChatEngine
from webui.chat.library import ChatLibrary
from webui.downloads import DownloadManager
from webui.embeddings import Embedder
from webui.extensions.manager import ExtensionManager
from webui.model_manager import LoadedModel, ModelManager
from webui.models.catalog import ModelCatalog
from webui.models.loading import LoadPlan, plan_for_entry, plan_initial
from webui.models.settings import SETTINGS_FILE, ModelSettings, ModelSettingsStore
from webui.presets import PresetLibrary, RememberedPresets
from webui.settings import APP_DIR, Settings
from webui.storage import JsonStore
from webui.tools.registry import ToolRegistry

log = logging.getLogger(__name__)


class ActiveGenerations:
    """The cancel event of each browser session's running generation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}

    def start(self, session_id: str) -> threading.Event:
        """A fresh cancel event for a new generation in `session_id`."""
        event = threading.Event()
        with self._lock:
            previous = self._events.get(session_id)
            if previous is not None:
                previous.set()  # one generation per session: a new one replaces the old
            self._events[session_id] = event
        return event

    def stop(self, session_id: str) -> bool:
        """Stop the session's generation; False if none was running."""
        with self._lock:
            event = self._events.get(session_id)
        if event is None:
            return False
        event.set()
        return True

    def finish(self, session_id: str, event: threading.Event) -> None:
        """Forget `event` once its generation ended (unless a newer one replaced it)."""
        with self._lock:
            if self._events.get(session_id) is event:
                del self._events[session_id]


@dataclass
class App:
    """Settings, the model manager, the chat engine and saved data, passed explicitly everywhere."""

    settings: Settings
    models: ModelManager
    chat: ChatEngine
    chats: ChatLibrary
    notebooks: JsonStore[Notebook]
    characters: CharacterLibrary
    presets: PresetLibrary
    remembered_presets: RememberedPresets
    catalog: ModelCatalog
    model_settings: ModelSettingsStore
    extensions: ExtensionManager
    downloads: DownloadManager  # models from the hub into models_dir (endpoint: HF_ENDPOINT)
    sampling: SamplingParams = field(default_factory=SamplingParams)
    preset_name: str | None = None
    generations: ActiveGenerations = field(default_factory=ActiveGenerations)
    tools: ToolRegistry = field(default_factory=ToolRegistry)
    embedder: Embedder = field(default_factory=Embedder)  # loaded on first use; shared by API, Learn tab, RAG

    def use_preset(self, name: str) -> SamplingParams:
        """Make preset `name` the sampling for the next generations; remember it for this model."""
        self.sampling = self.presets.load(name).apply()
        self.preset_name = name
        if self.models.is_loaded:
            loaded = self.models.loaded
            if loaded.model_id is None:
                self.remembered_presets.set(loaded.path.name, name)
            else:
                try:
                    self.model_settings.set_preset(loaded.model_id, name)
                except AppError as exc:  # a malformed models.yaml is reported, never overwritten
                    log.warning("preset not remembered: %s", exc)
        return self.sampling

    def set_sampling(self, params: SamplingParams) -> None:
        """Use hand-tuned parameters for the next generations (no preset)."""
        self.sampling = params
        self.preset_name = None

    def load_model(self, model_id: str, overrides: ModelSettings | None = None) -> LoadedModel:
        """Load the catalog model `model_id` with `overrides` over its saved settings; apply its preset.

        The current model is unloaded first; if the new one fails, no model is loaded and the error is raised.
        """
        return self._execute(plan_for_entry(self.catalog.find(model_id), self.model_settings, overrides))

    def _execute(self, plan: LoadPlan) -> LoadedModel:
        chosen = plan.settings
        loaded = self.models.load(
            plan.path,
            chosen.loader or self.settings.loader,
            chosen.apply_to(self.settings.load_options()),
            chosen.chat_template or self.settings.chat_template,
            model_id=plan.model_id,
            name=plan.name,
        )
        preset = chosen.preset or self.remembered_presets.get(plan.path.name)
        if preset:
            try:
                self.use_preset(preset)
            except AppError as exc:
                log.error("preset not applied: %s", exc)
        return loaded

    def load_initial_model(self) -> bool:
        """Load `settings.model` (a path or a name in models_dir; default: the bundled model); on failure log, go on."""
        try:
            self._execute(plan_initial(self.catalog, self.model_settings, self.settings))
        except AppError as exc:
            self.models.load_error = str(exc)
            log.error("no model loaded: %s", exc)
            return False
        return True


def build_app(settings: Settings, extensions_dir: Path = APP_DIR / "extensions") -> App:
    """Build the application object (no model loaded yet); enable `settings.extensions` (errors are logged)."""
    models = ModelManager(max_waiting=settings.max_queue)
    data = settings.user_data_dir
    tools = ToolRegistry()
    for folder in [APP_DIR / "extensions" / "tools", *settings.tool_folders]:
        tools.discover(folder)
    embedder = Embedder()
    extensions = ExtensionManager(extensions_dir, data, embedder)
    extensions.enable_all(settings.extensions)
    tools.register_many(extensions.tools(), "extensions")  # the register_tools hook
    return App(
        tools=tools,
        settings=settings,
        models=models,
        chat=ChatEngine(models, settings.system_prompt, extensions),
        extensions=extensions,
        embedder=embedder,
        sampling=settings.sampling,
        chats=ChatLibrary(data / "chats"),
        notebooks=JsonStore(data / "notebooks", Notebook, lambda notebook: notebook.name),
        characters=CharacterLibrary(data / "characters"),
        presets=PresetLibrary(APP_DIR / "presets"),
        remembered_presets=RememberedPresets(data / "model_presets.yaml"),
        catalog=ModelCatalog(settings.models_dir),
        model_settings=ModelSettingsStore(settings.models_dir / SETTINGS_FILE),
        downloads=DownloadManager(settings.models_dir),
    )
