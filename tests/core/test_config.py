"""Gin errors become one line naming file, line and fix."""

import gin
import pytest

from tfssl.core import config


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@gin.configurable(module="test_config")
def _configurable(alpha=1, beta=gin.REQUIRED):
    return alpha, beta


def _message(gin_files, params=()):
    with pytest.raises(config.ConfigError) as info:
        config.parse(gin_files, params)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_gin_file(tmp_path):
    assert "not found" in _message([str(tmp_path / "nope.gin")])


def test_syntax_error_names_file_and_line(tmp_path):
    path = _write(tmp_path, "bad.gin", "test_config._configurable.alpha = 1\ntest_config._configurable.beta = \n")
    message = _message([path])
    assert f"{path}:2" in message and "syntax" in message


def test_unknown_configurable_names_file_and_line(tmp_path):
    path = _write(tmp_path, "bad.gin", "\nNoSuchThing.x = 2\n")
    message = _message([path])
    assert f"{path}:2" in message and "unknown configurable 'NoSuchThing'" in message


def test_unknown_parameter(tmp_path):
    path = _write(tmp_path, "bad.gin", "test_config._configurable.gamma = 3\n")
    assert "has no parameter 'gamma'" in _message([path])


def test_unknown_parameter_in_binding():
    message = _message([], ["test_config._configurable.gamma = 3"])
    assert "--gin_param" in message and "gamma" in message


def test_missing_include(tmp_path):
    path = _write(tmp_path, "inc.gin", "include 'nothere.gin'\n")
    message = _message([path])
    assert "nothere.gin" in message and f"{path}:1" in message


def test_includes_resolve_relative_to_the_repository(tmp_path):
    (tmp_path / "gin" / "common").mkdir(parents=True)
    _write(tmp_path / "gin" / "common", "a.gin", "test_config._configurable.alpha = 7\n")
    path = _write(tmp_path / "gin", "exp.gin", "include 'gin/common/a.gin'\ntest_config._configurable.beta = 1\n")
    config.parse([path])
    assert _configurable() == (7, 1)


def test_later_files_and_params_override(tmp_path):
    first = _write(tmp_path, "a.gin", "test_config._configurable.alpha = 1\ntest_config._configurable.beta = 2\n")
    second = _write(tmp_path, "b.gin", "test_config._configurable.alpha = 3\n")
    config.parse([first, second], ["test_config._configurable.beta = 4"])
    assert _configurable() == (3, 4)


def test_missing_required_binding_is_one_line():
    config.parse([], [])
    with pytest.raises(config.ConfigError) as info, config.translate_call_errors():
        _configurable()
    assert "beta" in str(info.value) and "\n" not in str(info.value)


def test_undefined_macro_is_named():
    assert "%UNDEFINED_MACRO" in _message([], ["test_config._configurable.beta = %UNDEFINED_MACRO"])
    config.parse([], ["test_config._configurable.beta = %UNDEFINED_MACRO"], finalize=False)
    with pytest.raises(config.ConfigError) as info, config.translate_call_errors():
        _configurable()
    assert "%UNDEFINED_MACRO" in str(info.value)


def test_operative_config_written(tmp_path):
    config.parse([], ["test_config._configurable.beta = 5"])
    _configurable()
    text = config.write_operative_config(str(tmp_path))
    assert "beta = 5" in (tmp_path / "operative_config.gin").read_text() == text
