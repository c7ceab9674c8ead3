"""Application settings: defaults, a YAML settings file, then command-line flags."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backends.errors import InvalidRequest, SettingsError
from backends.loader import LOADERS, LoadOptions
from backends.remote_config import MAX_RETRIES, RemoteConfig, validate_remote_url
from backends.sampling import SamplingParams

#: What an extension name looks like (as webui.extensions.loader checks it).
EXTENSION_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
#: The folder the app lives in (server.py's folder).
APP_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseModel):
    """Everything a user can configure at start-up."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: Path | None = Field(
        None, description="Model file or folder, or a model's name in models_dir; none means the bundled model."
    )
    models_dir: Path = Field(APP_DIR / "models", description="The models folder (listed in the Models tab).")
    loader: str = Field("auto", description=f"Backend: one of {', '.join(LOADERS)}.")
    n_ctx: int = Field(4096, ge=0, le=1_048_576, description="Context window in tokens (0: the model's own).")
    threads: int | None = Field(None, ge=1, le=1024, description="CPU threads (default: all usable).")
    n_batch: int = Field(512, ge=1, le=65_536, description="Prompt-processing batch size.")
    n_gpu_layers: int = Field(0, ge=-1, le=100_000, description="Layers to offload to the GPU (-1: all).")
    mmap: bool = Field(True, description="Memory-map the model file.")
    mlock: bool = Field(False, description="Lock the model in RAM.")
    device: Literal["auto", "cuda", "mps", "cpu"] = Field("auto", description="transformers: where the model runs.")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field("auto", description="transformers: weight type.")
    trust_remote_code: bool = Field(False, description="transformers: run a model repository's own Python code.")
    allow_pickle: bool = Field(False, description="transformers: load pickle (.bin/.pt) weights, weights_only.")
    load_in: Literal["4bit", "8bit"] | None = Field(None, description="transformers: bitsandbytes quantization.")
    remote_url: str | None = Field(None, description="remote: the server's OpenAI base URL, e.g. http://host:8080/v1.")
    remote_api_key: str | None = Field(None, repr=False, description="remote: the server's API key (never logged).")
    remote_model: str | None = Field(None, description="remote: the model to use (default: the first it lists).")
    remote_connect_timeout: float = Field(10.0, gt=0, le=600, description="remote: seconds to connect.")
    remote_read_timeout: float = Field(300.0, gt=0, le=86_400, description="remote: seconds to wait for data.")
    remote_max_retries: int = Field(0, ge=0, le=MAX_RETRIES, description="remote: retries of refused connections.")
    chat_template: str | None = Field(
        None,
        description="A fallback template name (chatml, llama3, mistral, alpaca, gemma) to use instead of the model's.",
    )
    system_prompt: str = Field(
        "You are a helpful assistant.", max_length=100_000, description="System prompt for new chats."
    )
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(7860, ge=1, le=65_535, description="Port of the web UI.")
    auth: str | None = Field(None, description="user:password required to open the UI.")
    user_data_dir: Path = Field(APP_DIR / "user_data", description="Where chats and settings are saved.")
    sampling: SamplingParams = Field(default_factory=SamplingParams, description="Default sampling parameters.")
    preset: str | None = Field(None, description="A preset from presets/ to start with (overrides sampling).")
    tools: list[str] = Field(default_factory=list, description="Tools switched on in new chat sessions (by name).")
    tool_folders: list[Path] = Field(default_factory=list, description="More folders of tool files to load.")
    tools_max_steps: int = Field(4, ge=1, le=32, description="The most tool calls in one reply before it must answer.")
    tools_constrained: Literal["auto", "on", "off"] = Field(
        "auto", description="Grammar-constrained tool calls (llama.cpp, transformers); auto: on for small models."
    )
    extensions: list[str] = Field(
        default_factory=list, max_length=64, description="Extensions (folders in extensions/) to enable, in order."
    )
    max_queue: int = Field(64, ge=0, le=10_000, description="Generations that may wait for the model (then 429).")
    api: bool = Field(False, description="Serve the OpenAI-compatible API (on api_port, same host as the UI).")
    api_port: int = Field(5000, ge=1, le=65_535, description="Port of the OpenAI-compatible API.")
    api_key: str | None = Field(
        None, min_length=8, max_length=512, description="Key API clients must send (Bearer or x-api-key)."
    )
    api_cors_origins: tuple[str, ...] = Field(
        (), max_length=64, description="Browser origins allowed to call the API (CORS); none by default."
    )

    @field_validator("api_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("loader")
    @classmethod
    def _known_loader(cls, value: str) -> str:
        if value not in LOADERS:
            raise ValueError(f"must be one of {', '.join(LOADERS)}")
        return value

    @field_validator("remote_url")
    @classmethod
    def _remote_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_remote_url(value)
        except SettingsError as exc:
            raise ValueError(str(exc).removeprefix("remote_url: ")) from None

    @field_validator("remote_api_key")
    @classmethod
    def _remote_key(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(ch.isspace() for ch in value)):
            raise ValueError("must be non-empty and contain no spaces")
        return value

    @model_validator(mode="after")
    def _remote_needs_url(self) -> Settings:
        if self.loader == "remote" and not self.remote_url:
            raise ValueError("--loader remote needs --remote-url http://host:port/v1")
        if self.remote_url and self.loader != "remote":
            raise ValueError("--remote-url is only used with --loader remote")
        return self

    def remote_config(self) -> RemoteConfig | None:
        """How to reach the remote server, if one is configured."""
        if self.loader != "remote" or not self.remote_url:
            return None
        return RemoteConfig(
            base_url=self.remote_url,
            api_key=self.remote_api_key,
            model=self.remote_model or (str(self.model) if self.model else None),
            connect_timeout=self.remote_connect_timeout,
            read_timeout=self.remote_read_timeout,
            max_retries=self.remote_max_retries,
            context_length=self.n_ctx or 4096,
        )

    @field_validator("extensions", mode="before")
    @classmethod
    def _extension_names(cls, value: object) -> object:
        if isinstance(value, str):  # "a,b" from a settings file
            value = [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list):
            bad = [item for item in value if not isinstance(item, str) or not EXTENSION_NAME.match(item)]
            if bad:
                raise ValueError(f"not extension names: {bad} (folder names inside extensions/, no paths)")
        return value

    @field_validator("auth")
    @classmethod
    def _auth_shape(cls, value: str | None) -> str | None:
        if value is not None:
            user, sep, password = value.partition(":")
            if not sep or not user or not password:
                raise ValueError("must be user:password, both non-empty")
        return value

    def load_options(self) -> LoadOptions:
        """The model-loading part of the settings."""
        return LoadOptions(
            n_ctx=self.n_ctx,
            n_threads=self.threads,
            n_batch=self.n_batch,
            n_gpu_layers=self.n_gpu_layers,
            use_mmap=self.mmap,
            use_mlock=self.mlock,
            device=self.device,
            dtype=self.dtype,
            trust_remote_code=self.trust_remote_code,
            allow_pickle=self.allow_pickle,
            load_in=self.load_in,
            remote=self.remote_config(),
        )

    def auth_pair(self) -> tuple[str, str] | None:
        """The (user, password) pair, if auth is set."""
        if self.auth is None:
            return None
        user, _, password = self.auth.partition(":")
        return user, password


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Refuse to listen beyond this machine without credentials."""
    if not is_loopback(settings.host) and settings.auth is None:
        raise SettingsError(
            f"refusing to listen on {settings.host} without --auth user:password: anyone who can "
            "reach this machine could use the model. Add --auth, or keep the default 127.0.0.1."
        )
    if settings.api and not is_loopback(settings.host) and settings.api_key is None:
        raise SettingsError(f"refusing to serve the API on {settings.host} without --api-key")
    if settings.api and settings.api_port == settings.port:
        raise SettingsError(f"--api-port {settings.api_port} is the UI's port; choose another one")


def describe_validation_error(source: str, exc: ValidationError) -> str:
    """One readable line per problem, each naming the key."""
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"{key}: {error['msg']}")
    return f"{source}: " + "; ".join(problems)


def parse_yaml_mapping(
    text: str, source: str, expected: str, error: type[InvalidRequest] = InvalidRequest
) -> dict[str, Any]:
    """Parse YAML that must be a mapping (empty: {}); raise `error` naming `source` and what was `expected`."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{source}: {expected}")
    return {str(key): value for key, value in data.items()}


def read_settings_file(path: Path) -> dict[str, object]:
    """Read a YAML settings file into a mapping; raise `SettingsError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the settings file ({exc.strerror})") from exc
    data = parse_yaml_mapping(text, str(path), "the settings file must be a mapping of keys to values", SettingsError)
    return {key.replace("-", "_"): value for key, value in data.items()}


def make_settings(values: dict[str, object], source: str = "settings") -> Settings:
    """Validate `values` into `Settings`; raise `SettingsError` naming each bad key."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(source, exc)) from exc
