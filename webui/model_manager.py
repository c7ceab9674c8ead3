"""The loaded model, the one generation queue in front of it, and model swaps."""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from backends.base import Backend, GenerationRequest
from backends.errors import AppError, NoModelLoaded
from backends.loader import LoadOptions, load_backend
from backends.transformers_backend import release_free_heap
from webui.chat.templates import ChatTemplate, resolve_template
from webui.generation import GenerationStream
from webui.queue import FifoLock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A backend together with what the layers above need to use it."""

    backend: Backend
    path: Path
    loader: str
    template: ChatTemplate
    model_id: str | None = None  # the catalog id, when loaded from the models folder (or the bundled model)
    display_name: str | None = None

    @property
    def name(self) -> str:
        """A short name for display."""
        return self.display_name or self.path.name


class ModelManager:
    """Owns the loaded model. Generations queue in FIFO order; swaps wait for them."""

    def __init__(self, max_waiting: int = 64) -> None:
        self._queue = FifoLock(max_waiting=max_waiting)
        self._swap = threading.Lock()
        self._loaded: LoadedModel | None = None
        self._streams: weakref.WeakSet[GenerationStream] = weakref.WeakSet()
        #: Why the last load failed, for the UI to show; None after a success.
        self.load_error: str | None = None

    @property
    def loaded(self) -> LoadedModel:
        """The loaded model; raises `NoModelLoaded` when there is none."""
        loaded = self._loaded
        if loaded is None:
            reason = f" (the last load failed: {self.load_error})" if self.load_error else ""
            raise NoModelLoaded(f"no model is loaded{reason}")
        return loaded

    @property
    def waiting(self) -> int:
        """How many generations wait in the queue behind the running one."""
        return self._queue.waiting

    @property
    def is_loaded(self) -> bool:
        """Whether a model is loaded."""
        return self._loaded is not None

    def load(
        self,
        path: Path,
        loader: str = "auto",
        options: LoadOptions | None = None,
        template_override: str | None = None,
        *,
        model_id: str | None = None,
        name: str | None = None,
    ) -> LoadedModel:
        """Stop running generations, unload the current model (freeing its memory), load `path`.

        On failure no model is loaded, `load_error` says why, and the error is raised.
        """
        with self._swap:
            self._stop_all()
            self._queue.acquire()
            try:
                self._unload_locked()
                try:
                    backend = load_backend(path, loader, options)
                except AppError as exc:
                    self.load_error = str(exc)
                    raise
                try:
                    caps = backend.capabilities
                    template = ChatTemplate(
                        resolve_template(caps.chat_template, template_override),
                        bos_token=caps.bos_token,
                        eos_token=caps.eos_token,
                    )
                except AppError as exc:
                    backend.unload()
                    del backend
                    gc.collect()
                    self.load_error = str(exc)
                    raise
                self._loaded = LoadedModel(
                    backend=backend,
                    path=path,
                    loader=backend.name,
                    template=template,
                    model_id=model_id,
                    display_name=name,
                )
                self.load_error = None
                log.info("loaded %s with %s", path, backend.name)
                return self._loaded
            finally:
                self._queue.release()

    def unload(self) -> None:
        """Stop running generations and free the model."""
        with self._swap:
            self._stop_all()
            with self._queue:
                self._unload_locked()

    def _unload_locked(self) -> None:
        loaded, self._loaded = self._loaded, None
        if loaded is not None:
            loaded.backend.unload()
            del loaded
            gc.collect()  # frees cycles (tokenizers, jinja environments) that still point at the model
            release_free_heap()

    def _stop_all(self) -> None:
        for stream in list(self._streams):
            stream.cancel.set()

    @contextmanager
    def exclusive(self) -> Iterator[Backend]:
        """The loaded backend, held alone for the `with` block (it waits its turn behind generations)."""
        with self._queue:
            yield self.loaded.backend

    def stream(self, request: GenerationRequest, cancel: threading.Event | None = None) -> GenerationStream:
        """A generation that waits its turn in the queue when iterated."""
        stream = GenerationStream(self.loaded.backend, request, cancel, lock=self._queue)
        self._streams.add(stream)
        return stream
