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


def load_file(model: type[ModelT], path: str | Path) -> ModelT:
    """Read a YAML (or JSON, a subset of YAML) file into ``model``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML/JSON: {exc}") from None
    return validate(model, data, str(file))
