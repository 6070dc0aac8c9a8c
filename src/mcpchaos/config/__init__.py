"""Configuration: pydantic v2 models (extra fields forbidden, ranges checked), loaded from
YAML or JSON with errors that name the field path. No raw dicts past the loader."""
