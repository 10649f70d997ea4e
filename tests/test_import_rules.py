"""The layering of the package (docs/design.md, "The house"), read from every module's imports.

  errors.py     imports nothing of tfssl: every layer may raise its errors
  core/         the runtime: knows no method, no data, no evaluation
  layers/       networks and shared ops: knows no method and no loop
  data/         datasets and input functions: knows no method and no loop
  methods/      a method imports core/, layers/ and errors, never another method, data/ or evaluation/
  evaluation/   metrics: may use data/, layers/ and a method's inference code, never the command line
  registry.py and the command-line modules (cli, train, evaluate, export, deocclude, detect_keypoints) are
  imported by nothing in the library: registration is the one list the tools import.

Imports inside functions count too: a lazy import is still a dependency.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "tfssl"
COMMAND_LINE = {"tfssl.registry", "tfssl.cli", "tfssl.train", "tfssl.evaluate", "tfssl.export", "tfssl.deocclude",
                "tfssl.detect_keypoints"}

# What each layer may import from tfssl, as module-name prefixes; every other tfssl import is a violation.
ALLOWED = {
    "tfssl.errors": (),
    "tfssl.core": ("tfssl.errors", "tfssl.core", "tfssl"),
    "tfssl.layers": ("tfssl.errors", "tfssl.layers"),
    "tfssl.data": ("tfssl.errors", "tfssl.data"),
    "tfssl.methods": ("tfssl.errors", "tfssl.core", "tfssl.layers", "tfssl.methods.base"),
    "tfssl.evaluation": ("tfssl.errors", "tfssl.core", "tfssl.layers", "tfssl.data", "tfssl.evaluation",
                         "tfssl.methods"),
}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tfssl_imports(path: pathlib.Path) -> set[str]:
    """Every tfssl module a file imports (at any depth of its code), as absolute dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from tfssl.layers import augment` imports tfssl.layers.augment (or a name in tfssl.layers).
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    return {name for name in found if name == "tfssl" or name.startswith("tfssl.")}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def own_package(module: str) -> str | None:
    """A multi-file method's package (tfssl.methods.pcnet) may import itself."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "methods" and (PACKAGE / "methods" / parts[2]).is_dir():
        return ".".join(parts[:3])
    return None


def violations(module: str, imports: set[str]) -> list[str]:
    """What `module` must not import, one line each (empty when it keeps to its layer)."""
    layer = next((prefix for prefix in ALLOWED if _within(module, prefix)), None)
    own = own_package(module)
    bad = []
    for name in sorted(imports):
        if _within(name, module) or (own and _within(name, own)):
            continue
        if module not in COMMAND_LINE and any(_within(name, tool) for tool in COMMAND_LINE):
            bad.append(f"{module} imports the command-line layer ({name})")
            continue
        if layer is None:  # the package root and the command-line modules may import any layer
            continue
        allowed = ALLOWED[layer]
        if name == "tfssl":  # the package root itself (tfssl.__version__)
            ok = "tfssl" in allowed
        else:
            ok = any(_within(name, prefix) for prefix in allowed if prefix != "tfssl")
        if not ok:
            bad.append(f"{module} ({layer}) imports {name}")
    return bad


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_module_respects_the_layers(path):
    module = module_name(path)
    assert violations(module, tfssl_imports(path)) == []


def test_the_rule_catches_what_it_forbids():
    assert violations("tfssl.methods.lci", {"tfssl.methods.rotation"})
    assert violations("tfssl.methods.pirl", {"tfssl.data.pipelines"})
    assert violations("tfssl.methods.lci", {"tfssl.evaluation.layer_probes"})
    assert violations("tfssl.core.experiment", {"tfssl.registry"})
    assert violations("tfssl.core.trainer", {"tfssl.methods.base"})
    assert violations("tfssl.data.pipelines", {"tfssl.core.errors"})
    assert violations("tfssl.layers.augment", {"tfssl.core.trainer"})
    assert violations("tfssl.evaluation.classification", {"tfssl.cli"})
    assert not violations("tfssl.methods.pcnet.inference", {"tfssl.methods.pcnet.samples"})
    assert not violations("tfssl.methods.rotation", {"tfssl.methods.base", "tfssl.layers.augment", "tfssl.errors"})
    assert not violations("tfssl.train", {"tfssl.registry", "tfssl.cli", "tfssl.core.experiment"})


def test_registry_names_every_module_that_registers_configurables():
    import tfssl.registry

    registering = {module_name(p) for p in MODULES
                   if "gin.configurable" in p.read_text() or "@register" in p.read_text()}
    registering -= COMMAND_LINE | {"tfssl.methods.base"}  # base defines `register`; the CLIs define flags
    listed = set(tfssl.registry.MODULES)
    # A package listed by name (tfssl.methods.pcnet) imports its modules.
    covered = {m for m in registering if any(_within(m, entry) for entry in listed)}
    assert registering - covered == set()
