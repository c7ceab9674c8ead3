"""Sampling presets: YAML files of partial `SamplingParams`, in text-generation-webui's key names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from backends.errors import InvalidRequest
from backends.sampling import ALL_FIELDS, SamplingParams
from webui.settings import describe_validation_error, parse_yaml_mapping
from webui.storage import atomic_write_text

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.()+-]{0,63}$")
MAX_PRESET_BYTES = 200_000

#: text-generation-webui keys Jielong has no sampler for, with the value that means "off".
UNSUPPORTED_KEYS: dict[str, Any] = {
    "top_a": 0,
    "tfs": 1,
    "epsilon_cutoff": 0,
    "eta_cutoff": 0,
    "smoothing_factor": 0,
    "smoothing_curve": 1,
    "guidance_scale": 1,
    "penalty_alpha": 0,
    "encoder_repetition_penalty": 1,
    "no_repeat_ngram_size": 0,
    "top_n_sigma": 0,
    "num_beams": 1,
    "length_penalty": 1,
    "early_stopping": False,
    "min_length": 0,
    "negative_prompt": "",
    "dry_penalty_last_n": 0,
    "prompt_lookup_num_tokens": 0,
    "max_tokens_second": 0,
    "temperature_last": None,
    "dynamic_temperature": None,
    "do_sample": None,
}


@dataclass(frozen=True)
class Preset:
    """A loaded preset: the fields it sets, and notes on keys it could not honour."""

    name: str
    values: dict[str, Any]
    warnings: tuple[str, ...] = ()

    def apply(self, base: SamplingParams | None = None) -> SamplingParams:
        """`base` (default: the defaults) with this preset's fields set."""
        merged = {**(base or SamplingParams()).model_dump(), **self.values}
        return SamplingParams.model_validate(merged)


@dataclass(frozen=True)
class PresetFile:
    """A preset file as listed: loaded, or with the error that kept it out."""

    name: str
    preset: Preset | None
    error: str | None = None


def check_preset_name(name: str) -> str:
    """A preset name that is safe as a file name in presets/; otherwise `InvalidRequest`."""
    if not isinstance(name, str) or ".." in name or not _NAME.match(name):
        raise InvalidRequest(
            f"invalid preset name {name!r}: use letters, digits, spaces and _ . ( ) + - (at most 64), no paths"
        )
    return name


def translate(values: dict[str, Any], source: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """text-generation-webui's keys -> `SamplingParams` fields; unknown keys are errors naming them."""
    fields: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in values.items():
        if key in ALL_FIELDS:
            fields[key] = value
        elif key not in UNSUPPORTED_KEYS:
            raise InvalidRequest(f"{source}: unknown key {key!r} (not a sampling parameter)")
    if values.get("do_sample") is False:
        fields["temperature"] = 0.0
    if values.get("dynamic_temperature") is False:
        fields.pop("dynatemp_low", None)
        fields.pop("dynatemp_high", None)
    if values.get("temperature_last") and "sampler_priority" not in fields:
        fields["sampler_priority"] = [s for s in SamplingParams().sampler_priority if s != "temperature"] + [
            "temperature"
        ]
    for key, neutral in UNSUPPORTED_KEYS.items():
        if key in values and neutral is not None and values[key] != neutral:
            warnings.append(f"{key}={values[key]!r} is ignored: Jielong has no such sampler")
    return fields, tuple(warnings)


def parse_preset(name: str, text: str, source: str) -> Preset:
    """Validate preset YAML; errors name the file, the key and the allowed range."""
    data = parse_yaml_mapping(text, source, "a preset must be a mapping of parameter names to values")
    fields, warnings = translate(data, source)
    try:
        SamplingParams.model_validate(fields)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_error(source, exc)) from exc
    return Preset(name=name, values=fields, warnings=warnings)


class PresetLibrary:
    """The presets in one folder. Names are validated; symlinks and paths are refused."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, name: str) -> Path:
        """The file of preset `name`, always directly inside the folder, never a symlink."""
        path = self.folder / f"{check_preset_name(name)}.yaml"
        if path.is_symlink():
            raise InvalidRequest(f"{path.name}: symbolic links in presets/ are refused")
        if path.parent.resolve() != self.folder.resolve():
            raise InvalidRequest(f"invalid preset name {name!r}")
        return path

    def load(self, name: str) -> Preset:
        """Read one preset; raise `InvalidRequest` with the reason."""
        path = self.path_for(name)
        if not path.is_file():
            raise InvalidRequest(f"no preset named {name!r}")
        if path.stat().st_size > MAX_PRESET_BYTES:
            raise InvalidRequest(f"{path.name}: larger than {MAX_PRESET_BYTES} bytes")
        return parse_preset(name, path.read_text(encoding="utf-8", errors="replace"), path.name)

    def scan(self) -> list[PresetFile]:
        """Every preset file, loaded or with its error, sorted by name."""
        found = []
        for path in sorted(self.folder.glob("*.yaml"), key=lambda p: p.stem.lower()):
            try:
                found.append(PresetFile(path.stem, self.load(path.stem)))
            except InvalidRequest as exc:
                found.append(PresetFile(path.stem, None, str(exc)))
        return found

    def names(self) -> list[str]:
        """Names of the presets that load."""
        return [entry.name for entry in self.scan() if entry.preset is not None]

    def save(self, name: str, params: SamplingParams, comment: str = "") -> Path:
        """Write the fields of `params` that differ from the defaults, atomically."""
        path = self.path_for(name)
        defaults = SamplingParams().model_dump(mode="json")
        values = {k: v for k, v in params.model_dump(mode="json").items() if v != defaults[k]}
        header = "".join(f"# {line}\n" for line in comment.splitlines())
        atomic_write_text(path, header + yaml.safe_dump(values, sort_keys=False, allow_unicode=True))
        return path

    def delete(self, name: str) -> None:
        """Remove a preset file."""
        path = self.path_for(name)
        if path.is_file():
            path.unlink()


class RememberedPresets:
    """The last preset used with each model, in a small YAML file under the user-data folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, model: str) -> str | None:
        """The preset last used with `model`, if any."""
        return self._read().get(model)

    def set(self, model: str, preset: str) -> None:
        """Remember `preset` for `model`."""
        data = self._read()
        data[model] = check_preset_name(preset)
        atomic_write_text(self.path, yaml.safe_dump(data, allow_unicode=True))
