from pathlib import Path

import pytest

from mcpchaos.config.faults import CorruptionMode, ErrorType, FaultConfig, FaultType
from mcpchaos.config.load import load_file, validate
from mcpchaos.errors import ConfigError

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def test_the_default_config_injects_nothing() -> None:
    config = FaultConfig()
    assert config.fault_probability == 0
    assert config.enabled_faults.enabled() == []
    assert config.rules == []


def test_by_default_the_top_level_and_rules_target_client_requests() -> None:
    config = validate(FaultConfig, {"rules": [{"enabled_faults": {"drop": True}}]})
    assert config.match.message_classes == ["client_request"]
    assert config.rules[0].match.message_classes == ["client_request"]


def test_defaults_follow_the_original_specification() -> None:
    config = FaultConfig()
    assert config.error_config.types == list(ErrorType)
    assert config.corruption_config.modes == [
        CorruptionMode.METHOD_SUFFIX,
        CorruptionMode.JSONRPC_VERSION,
        CorruptionMode.NULL_PARAMS,
        CorruptionMode.REPLACE_ID,
    ]


@pytest.mark.parametrize(
    ("data", "names"),
    [
        (
            {"fault_probability": 1.5, "enabled_faults": {"delay": True}},
            ["fault_probability", "less than or equal"],
        ),
        ({"delay_ms": {"min_ms": 500, "max_ms": 100}}, ["delay_ms", "min_ms (500.0) must not be greater"]),
        ({"enabled_faults": {"teleport": True}}, ["enabled_faults.teleport", "unknown field"]),
        ({"fault_probabilty": 0.5}, ["fault_probabilty", "unknown field"]),
        (
            {"fault_probability": 0.5, "enabled_faults": {"error": True}, "error_config": {"types": []}},
            ["error is enabled but error_config.types is empty"],
        ),
        ({"error_config": {"types": ["teapot"]}}, ["error_config.types.0", "timeout"]),
        ({"fault_probability": 0.5}, ["no fault is enabled"]),
        (
            {"resource_exhaustion": {"memory_spike_mb": 100000}},
            ["resource_exhaustion.memory_spike_mb", "1024"],
        ),
        ({"rules": [{"probability": 1.0}]}, ["rules.0", "no enabled_faults"]),
        ({"match": {"message_classes": []}}, ["match", "at least one class", "[all]"]),
        (
            {"rules": [{"enabled_faults": {"error": True}, "error_config": {"types": []}}]},
            ["rules.0", "types is empty"],
        ),
    ],
)
def test_invalid_configs_are_rejected_naming_the_field(data: dict[str, object], names: list[str]) -> None:
    with pytest.raises(ConfigError) as raised:
        validate(FaultConfig, data, "test")
    for name in names:
        assert name in str(raised.value)


def test_a_rule_inherits_what_it_does_not_set() -> None:
    config = validate(
        FaultConfig,
        {
            "delay_ms": {"min_ms": 1, "max_ms": 2},
            "rules": [{"enabled_faults": {"delay": True}, "error_config": {"types": ["timeout"]}}],
        },
    )
    settings = config.settings_for(config.rules[0])
    assert settings.delay_ms.max_ms == 2
    assert settings.error_config.types == [ErrorType.TIMEOUT]


def test_weights_are_one_unless_given() -> None:
    config = validate(
        FaultConfig, {"enabled_faults": {"delay": True, "error": True, "weights": {"error": 3}}}
    )
    assert config.enabled_faults.weight(FaultType.ERROR) == 3
    assert config.enabled_faults.weight(FaultType.DELAY) == 1


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_example_profiles_load(path: Path) -> None:
    from mcpchaos.config.network import LinksFile, NetworkConfig

    if path.name.startswith("links"):
        assert load_file(LinksFile, path).links
    elif path.name.startswith("network"):
        assert load_file(NetworkConfig, path).seed is not None
    else:
        assert load_file(FaultConfig, path).seed is not None


def test_a_file_that_is_not_yaml_or_is_missing_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fault_probability: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_file(FaultConfig, bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_file(FaultConfig, tmp_path / "missing.yaml")


def test_json_works_too(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text('{"fault_probability": 0.2, "enabled_faults": {"drop": true}, "seed": 5}')
    assert load_file(FaultConfig, path).fault_probability == 0.2
