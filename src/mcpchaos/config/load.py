"""Load a configuration model from a YAML or JSON file, with errors a person can act on."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mcpchaos.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


def describe_validation_error(error: ValidationError, source: str) -> str:
    """One line per problem: ``field.path: what is wrong (input: value)``."""
    lines = [f"{source}: {error.error_count()} problem(s) in the configuration:"]
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see the documented fields)"
        given = problem.get("input")
        shown = f" (got {given!r})" if given is not None and problem["type"] != "extra_forbidden" else ""
        lines.append(f"  {path}: {message}{shown}")
    return "\n".join(lines)


def validate(model: type[ModelT], data: object, source: str = "configuration") -> ModelT:
    """Validate ``data`` into ``model``; ConfigError naming each bad field otherwise."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None


def describe_yaml_error(error: yaml.YAMLError, source: str) -> str:
    """One line: where the text stops being YAML, and why."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem is None:
        return f"{source}: not valid YAML/JSON: {' '.join(str(error).split())}"
    mark = error.problem_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context = f" ({error.context})" if error.context else ""
    return f"{source}: not valid YAML/JSON{where}: {error.problem}{context}"


def read_yaml(path: str | Path) -> object:
    """The data in a YAML (or JSON, a subset of YAML) file; ConfigError, one line, if it
    cannot be read or parsed."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not a text file (not UTF-8): give a YAML or JSON file") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(describe_yaml_error(exc, str(file))) from None


def load_file(model: type[ModelT], path: str | Path) -> ModelT:
    """Read a YAML (or JSON, a subset of YAML) file into ``model``."""
    return validate(model, read_yaml(path), str(path))
