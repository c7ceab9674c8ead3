"""Characters: YAML files with a name, a greeting and a context (text-generation-webui's format)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backends.errors import InvalidRequest
from webui.settings import describe_validation_error

#: Characters that ship with Jielong.
BUILTIN_CHARACTERS = Path(__file__).resolve().parent.parent / "characters"
#: Character files larger than this are refused.
MAX_CHARACTER_BYTES = 1_000_000
USER_NAME = "You"


class Character(BaseModel):
    """A persona for chat mode. Unknown keys of text-generation-webui's files are ignored."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=120)
    greeting: str = Field("", max_length=100_000)
    context: str = Field("", max_length=100_000)

    def fill(self, text: str) -> str:
        """Replace text-generation-webui's `{{char}}` and `{{user}}` placeholders."""
        return text.replace("{{char}}", self.name).replace("{{user}}", USER_NAME)


@dataclass(frozen=True)
class CharacterFile:
    """A character file found on disk, with the error that kept it from loading."""

    path: Path
    character: Character | None
    error: str | None = None


def read_character(path: Path) -> Character:
    """Parse one character YAML; raise `InvalidRequest` naming the file and the problem."""
    if path.is_symlink():
        raise InvalidRequest(f"{path.name}: symbolic links are not followed")
    if path.stat().st_size > MAX_CHARACTER_BYTES:
        raise InvalidRequest(f"{path.name}: larger than {MAX_CHARACTER_BYTES} bytes")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{path.name}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise InvalidRequest(f"{path.name}: a character file must be a mapping with name, greeting, context")
    try:
        return Character.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_error(path.name, exc)) from exc


class CharacterLibrary:
    """Characters from the built-in folder and the user's `characters/` folder (theirs win)."""

    def __init__(self, user_folder: Path, builtin_folder: Path = BUILTIN_CHARACTERS) -> None:
        self.folders = (builtin_folder, user_folder)

    def scan(self) -> list[CharacterFile]:
        """Every character file, loaded or with its error."""
        found: dict[str, CharacterFile] = {}
        for folder in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.y*ml")):
                try:
                    entry = CharacterFile(path, read_character(path))
                except (InvalidRequest, OSError) as exc:
                    entry = CharacterFile(path, None, str(exc))
                found[entry.character.name if entry.character else path.name] = entry
        return sorted(found.values(), key=lambda e: e.path.stem.lower())

    def names(self) -> list[str]:
        """Names of the characters that loaded."""
        return [e.character.name for e in self.scan() if e.character is not None]

    def get(self, name: str) -> Character:
        """The character called `name` (looked up, never used as a path)."""
        for entry in self.scan():
            if entry.character is not None and entry.character.name == name:
                return entry.character
        raise InvalidRequest(f"no character named {name!r}")
