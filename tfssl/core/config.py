"""Gin parsing with one-line errors, and the operative config as provenance.

Every hyperparameter in tfssl is a gin binding. This module turns gin's multi-line exceptions into a
`ConfigError` whose message is one line naming the file, the line and the fix, so the CLIs can print it and exit
non-zero. `import gin.tf` does not work on TF >= 2.16, so only core gin is used.
"""

from __future__ import annotations

import contextlib
import os
import re
import tokenize
from typing import Iterable, Sequence

import gin

from tfssl.errors import UserError


class ConfigError(UserError):
    """A gin file or binding cannot be used. `str(error)` is one line: cause and fix."""


_LOCATION = re.compile(r'In (?:file "(?P<file>[^"]+)", line (?P<line>\d+)|bindings string line (?P<bline>\d+))')


def _where(message: str) -> str:
    match = _LOCATION.search(message)
    if not match:
        return ""
    if match.group("file"):
        return f"{match.group('file')}:{match.group('line')}: "
    return f"--gin_param line {match.group('bline')}: "


def _one_line(error: Exception) -> str:
    """Condenses a gin parse exception into `where: cause; fix`."""
    message = str(error)
    first = message.splitlines()[0] if message else type(error).__name__
    where = _where(message)
    if isinstance(error, SyntaxError) and getattr(error, "filename", None):
        text = (error.text or "").strip()
        return (f"{error.filename}:{error.lineno}: gin syntax error in `{text}`; "
                "fix the value (strings need quotes, references start with @, macros with %)")
    if isinstance(error, (SyntaxError, tokenize.TokenError)):
        return f"--gin_param: gin syntax error ({first}); check quotes and brackets of the binding"
    if first.startswith("No configurable matching"):
        name = first.split("'")[1].lstrip("@")
        return (f"{where}unknown configurable '{name}'; check its spelling, or run "
                "`python -m tfssl.train --list_configurables` to see the registered names")
    parameter_error = re.match(r"Configurable '(.+)' doesn't have a parameter named '(.+)'", first)
    if parameter_error:
        configurable, parameter = parameter_error.groups()
        return (f"{where}'{configurable}' has no parameter '{parameter}'; check its spelling against the "
                f"signature of {configurable}")
    macro = re.match(r"No bindings specified for '([\w./]+)/gin\.macro'", first)
    if macro:
        return (f"gin macro '%{macro.group(1)}' is used but never defined; define `{macro.group(1)} = ...` in a gin "
                "file or pass --gin_param")
    if first.startswith("Unable to open file"):
        missing = first[len("Unable to open file: "):].split(". Searched")[0]
        return (f"{where}gin file '{missing}' not found; pass an existing path (relative to the current "
                "directory or to the including file's folder)")
    return f"{where}{first}"


def _search_paths(gin_files: Sequence[str]) -> list[str]:
    """Folders gin should search for `include`s: each file's folder and its parent (the repo root for gin/x.gin)."""
    paths = []
    for path in gin_files:
        folder = os.path.dirname(os.path.abspath(path))
        for candidate in (folder, os.path.dirname(folder)):
            if candidate not in paths:
                paths.append(candidate)
    return paths


def parse(gin_files: Sequence[str], gin_params: Iterable[str] = (), *, finalize: bool = True) -> None:
    """Parses gin files then bindings (later ones win), raising `ConfigError` with a one-line message.

    Args:
      gin_files: paths of gin files, in order.
      gin_params: bindings such as `"Trainer.train_steps = 10"`.
      finalize: lock the config afterwards (the CLIs do; notebooks that re-parse pass False).
    """
    gin.clear_config()
    for path in gin_files:
        if not os.path.isfile(path):
            raise ConfigError(f"gin file '{path}' not found; pass --gin_file=PATH to an existing file "
                              "(e.g. gin/rotation.gin from the repository root)")
    for folder in _search_paths(gin_files):
        gin.add_config_file_search_path(folder)
    try:
        gin.parse_config_files_and_bindings(list(gin_files), list(gin_params), finalize_config=finalize)
    except (SyntaxError, tokenize.TokenError, ValueError, OSError, KeyError) as error:
        raise ConfigError(_one_line(error)) from error


@contextlib.contextmanager
def translate_call_errors():
    """Turns gin errors raised while configurables are *called* into one-line `ConfigError`s.

    Gin reports missing required bindings and undefined macros only when a configurable runs. Errors tfssl
    raises itself (`UserError`) pass through unchanged.
    """
    try:
        yield
    except UserError:
        raise
    except (ValueError, TypeError, RuntimeError) as error:
        first = (str(error).splitlines() or [type(error).__name__])[0]
        required = re.search(r"Required bindings for `?([\w.]+)`? not provided in config: \[(.*)\]", first)
        if required:
            raise ConfigError(f"missing gin binding for {required.group(1)}: {required.group(2)}; add "
                              f"`{required.group(1)}.<name> = ...` to a gin file or pass --gin_param") from error
        macro = re.search(r"configurable 'macro' .* in scope '([\w./]+)'", str(error))
        if macro:
            raise ConfigError(f"gin macro '%{macro.group(1)}' is used but never defined; define "
                              f"`{macro.group(1)} = ...` in a gin file or pass --gin_param") from error
        raise


def operative_config() -> str:
    """The gin config actually used so far (only the parameters that were read)."""
    return gin.operative_config_str()


def write_operative_config(model_dir: str, text: str | None = None) -> str:
    """Writes `model_dir/operative_config.gin` atomically and returns its text."""
    text = operative_config() if text is None else text
    path = os.path.join(model_dir, "operative_config.gin")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return text


def config_as_markdown(text: str) -> str:
    """Operative config as TensorBoard text: a code block per line keeps gin's indentation readable."""
    return "\n".join("    " + line for line in text.splitlines())
