"""Find, check and import extensions: `extensions/<name>/script.py`.

Only folders directly inside the extensions folder load; a name is validated before
it touches the file system. An extension's `requirements.txt` is checked with
`importlib.metadata` before its script is imported, so a missing package is named
with the command that installs it instead of surfacing as an ImportError.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import secrets
import sys
import traceback
from pathlib import Path
from types import ModuleType

from packaging.requirements import InvalidRequirement, Requirement

from backends.errors import ExtensionError

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


def check_name(name: str) -> str:
    """Return `name` if it is a valid extension name (lowercase letters, digits, _), else raise."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ExtensionError(
            f"not a valid extension name: {name!r} (use the folder name inside extensions/: "
            "lowercase letters, digits and _; paths are refused)"
        )
    return name


def extension_folder(extensions_dir: Path, name: str) -> Path:
    """The folder of extension `name`, which must lie directly inside `extensions_dir`."""
    check_name(name)
    root = extensions_dir.resolve()
    folder = (root / name).resolve()
    if folder.parent != root:
        raise ExtensionError(f"extension {name!r} resolves outside {root}")
    if not (folder / "script.py").is_file():
        raise ExtensionError(f"no extension named {name!r}: {folder / 'script.py'} does not exist")
    return folder


def available_extensions(extensions_dir: Path) -> list[str]:
    """Names of the folders in `extensions_dir` that hold a script.py, sorted."""
    if not extensions_dir.is_dir():
        return []
    return sorted(
        entry.name
        for entry in extensions_dir.iterdir()
        if NAME_PATTERN.match(entry.name) and (entry / "script.py").is_file()
    )


def missing_requirements(folder: Path) -> list[str]:
    """The lines of `folder/requirements.txt` that the installed packages do not satisfy."""
    path = folder / "requirements.txt"
    if not path.is_file():
        return []
    missing = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            missing.append(f"{line} (not a valid requirement)")
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(f"{requirement.name} (not installed)")
            continue
        if requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{requirement.name}{requirement.specifier} (installed: {version})")
    return missing


def import_extension(extensions_dir: Path, name: str) -> ModuleType:
    """Check the requirements of extension `name`, then import its script under a unique module name."""
    folder = extension_folder(extensions_dir, name)
    missing = missing_requirements(folder)
    if missing:
        raise ExtensionError(
            f"extension {name!r} needs {', '.join(missing)}; install with: "
            f"pip install -r extensions/{name}/requirements.txt"
        )
    module_name = f"jielong_extension_{name}_{secrets.token_hex(4)}"
    spec = importlib.util.spec_from_file_location(module_name, folder / "script.py")
    if spec is None or spec.loader is None:
        raise ExtensionError(f"extension {name!r}: cannot load {folder / 'script.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise ExtensionError(
            f"extension {name!r} failed to import: {type(exc).__name__}: {exc} "
            f"({Path(where.filename).name}, line {where.lineno})"
        ) from exc
    return module
