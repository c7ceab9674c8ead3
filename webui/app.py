"""The application object: everything the UI and API share, built once in server.py."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from backends.errors import AppError
from backends.loader import bundled_model_path
from backends.sampling import SamplingParams
from webui.chat.characters import CharacterLibrary
from webui.chat.conversation import Notebook
from webui.chat.engine import ChatEngine
from webui.chat.library import ChatLibrary
from webui.embeddings import Embedder
from webui.model_manager import ModelManager
from webui.presets import PresetLibrary, RememberedPresets
from webui.settings import APP_DIR, Settings
from webui.storage import JsonStore

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
    sampling: SamplingParams = field(default_factory=SamplingParams)
    preset_name: str | None = None
    generations: ActiveGenerations = field(default_factory=ActiveGenerations)
    embedder: Embedder = field(default_factory=Embedder)  # loaded on first use

    def use_preset(self, name: str) -> SamplingParams:
        """Make preset `name` the sampling for the next generations; remember it for this model."""
        self.sampling = self.presets.load(name).apply()
        self.preset_name = name
        if self.models.is_loaded:
            self.remembered_presets.set(self.models.loaded.name, name)
        return self.sampling

    def set_sampling(self, params: SamplingParams) -> None:
        """Use hand-tuned parameters for the next generations (no preset)."""
        self.sampling = params
        self.preset_name = None

    def load_initial_model(self) -> bool:
        """Load `settings.model` (or the bundled model). On failure log one line and go on."""
        try:
            path = self.settings.model or bundled_model_path()
            self.models.load(path, self.settings.loader, self.settings.load_options(), self.settings.chat_template)
        except AppError as exc:
            self.models.load_error = str(exc)
            log.error("no model loaded: %s", exc)
            return False
        preset = self.settings.preset or self.remembered_presets.get(self.models.loaded.name)
        if preset:
            try:
                self.use_preset(preset)
            except AppError as exc:
                log.error("preset not applied: %s", exc)
        return True


def build_app(settings: Settings) -> App:
    """Build the application object (no model loaded yet)."""
    models = ModelManager(max_waiting=settings.max_queue)
    data = settings.user_data_dir
    return App(
        settings=settings,
        models=models,
        chat=ChatEngine(models, settings.system_prompt),
        sampling=settings.sampling,
        chats=ChatLibrary(data / "chats"),
        notebooks=JsonStore(data / "notebooks", Notebook, lambda notebook: notebook.name),
        characters=CharacterLibrary(data / "characters"),
        presets=PresetLibrary(APP_DIR / "presets"),
        remembered_presets=RememberedPresets(data / "model_presets.yaml"),
    )
