"""Arguments that validate against a tool's ``inputSchema``: the smallest plausible instance.

The harness's default request mix calls the target's own tools, so it needs arguments each
tool accepts. This builds one instance per schema, deterministically: required properties only;
``const``, then ``default``, then ``examples``, then ``enum``; a value named in the description
("e.g. 'Europe/London'", the only hint many servers give for a string); then one per type that
respects formats, lengths, ranges, ``multipleOf``, array sizes and nested objects; ``$ref`` into
``$defs``/``definitions``; the first workable branch of ``anyOf``/``oneOf``; ``allOf`` merged.
The result is checked with ``jsonschema`` (a dependency of the MCP SDK); a schema this cannot
satisfy (a ``pattern`` nothing here matches, ``not``) gives None and the tool is left out of
the mix with the reason.

(hypothesis-jsonschema generates many instances, but is unmaintained since 2023 and pulls its
generation machinery onto the run's start: one valid, plain instance is what a steady request
mix needs.)
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema

_FORMATS: dict[str, str] = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uri-reference": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "duration": "PT1S",
}
_QUOTED_EXAMPLE = re.compile(
    r"""(?:e\.g\.|for example|such as|like)[,:]?\s*[\('"`]*['"`]([^'"`]{1,80})['"`]""", re.I
)
_MAX_DEPTH = 8


class UnsatisfiableError(Exception):
    """No plain instance of this schema could be built."""


def example_arguments(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """Arguments for a tool whose ``inputSchema`` is ``schema``, or None if none could be built."""
    if not schema:
        return {}
    try:
        value = _instance(schema, schema, 0)
    except UnsatisfiableError:
        return None
    if not isinstance(value, dict):
        return None
    try:
        jsonschema.validate(value, schema)
    except (jsonschema.ValidationError, jsonschema.SchemaError):
        return None
    return value


def unsatisfied_reason(schema: dict[str, Any] | None) -> str:
    """Why :func:`example_arguments` gave None, in words (for the run's notes)."""
    try:
        value = _instance(schema or {}, schema or {}, 0)
    except UnsatisfiableError as why:
        return str(why)
    try:
        jsonschema.validate(value, schema or {})
    except jsonschema.ValidationError as error:
        return f"the arguments built ({value!r}) do not validate: {error.message}"
    except jsonschema.SchemaError as error:
        return f"its input schema is not a valid JSON Schema: {error.message}"
    return "its arguments are not an object"


def _instance(schema: Any, root: dict[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise UnsatisfiableError("the schema nests too deep")
    if schema is True or schema == {}:
        return {}
    if not isinstance(schema, dict):
        raise UnsatisfiableError("a schema that refuses everything")
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _instance(_resolve(ref, root), root, depth + 1)
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            return _first_branch(branches, root, depth)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            merged = _merge(merged, _resolve(part["$ref"], root) if "$ref" in part else part)
        return _instance(merged, root, depth + 1)
    if "not" in schema:
        raise UnsatisfiableError("a 'not' schema")
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    return _by_type(str(kind), schema, root, depth)


def _by_type(kind: str, schema: dict[str, Any], root: dict[str, Any], depth: int) -> Any:
    if kind == "object":
        properties = schema.get("properties") or {}
        required = [name for name in schema.get("required") or [] if isinstance(name, str)]
        out: dict[str, Any] = {}
        for name in required:
            out[name] = _instance(properties.get(name, {"type": "string"}), root, depth + 1)
        return out
    if kind == "array":
        count = max(int(schema.get("minItems", 0) or 0), 0)
        items = schema.get("items", {})
        if isinstance(items, list):  # a tuple schema
            return [_instance(item, root, depth + 1) for item in items[: max(count, len(items))]]
        value = _instance(items, root, depth + 1) if count else None
        values = [value] * count
        if schema.get("uniqueItems") and count > 1:
            raise UnsatisfiableError("an array of several unique items")
        return values
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        return _number(kind, schema)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    raise UnsatisfiableError(f"an unknown type {kind!r}")


def _string(schema: dict[str, Any]) -> str:
    fmt = schema.get("format")
    named = _QUOTED_EXAMPLE.search(str(schema.get("description", "")))
    candidates = [named.group(1)] if named else []
    candidates += [_FORMATS[fmt]] if isinstance(fmt, str) and fmt in _FORMATS else []
    candidates += ["mcpchaos", "a", "0", "x" * 8]
    low = int(schema.get("minLength", 0) or 0)
    high = schema.get("maxLength")
    pattern = schema.get("pattern")
    for candidate in candidates:
        value = candidate + "x" * max(0, low - len(candidate))
        if high is not None and len(value) > int(high):
            value = value[: int(high)]
        if len(value) < low:
            continue
        if isinstance(pattern, str) and re.search(pattern, value) is None:
            continue
        return value
    raise UnsatisfiableError(f"a string matching {pattern!r}" if pattern else "a string of that length")


def _number(kind: str, schema: dict[str, Any]) -> int | float:
    low = schema.get("minimum")
    high = schema.get("maximum")
    if schema.get("exclusiveMinimum") is not None:
        low = schema["exclusiveMinimum"] + (1 if kind == "integer" else 0.5)
    if schema.get("exclusiveMaximum") is not None:
        high = schema["exclusiveMaximum"] - (1 if kind == "integer" else 0.5)
    value: float = 1
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    step = schema.get("multipleOf")
    if step:
        value = (value // step + (1 if value % step else 0)) * step
        if high is not None and value > high:
            raise UnsatisfiableError("no multiple of multipleOf in range")
    return int(value) if kind == "integer" else value


def _first_branch(branches: list[Any], root: dict[str, Any], depth: int) -> Any:
    reasons = []
    for branch in sorted(branches, key=lambda b: isinstance(b, dict) and b.get("type") == "null"):
        try:
            return _instance(branch, root, depth + 1)
        except UnsatisfiableError as why:
            reasons.append(str(why))
    raise UnsatisfiableError("no workable branch: " + "; ".join(reasons))


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    if not ref.startswith("#/"):
        raise UnsatisfiableError(f"a $ref outside the schema ({ref})")
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            raise UnsatisfiableError(f"a $ref to nothing ({ref})")
        node = node[part]
    return node


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        elif key == "required" and isinstance(value, list):
            out[key] = list(dict.fromkeys([*out.get(key, []), *value]))
        else:
            out.setdefault(key, value)
    return out


__all__ = ["UnsatisfiableError", "example_arguments", "unsatisfied_reason"]
