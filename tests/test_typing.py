"""The typing the package ships: py.typed, and a stub of fastmlp._cpp that matches the
extension's bindings (every function, with the same parameter names and defaults)."""
import ast
import re
from pathlib import Path

import pytest

import fastmlp

PACKAGE_DIR = Path(fastmlp.__file__).parent


def test_the_package_is_marked_typed():
    assert (PACKAGE_DIR / "py.typed").is_file()


def _stub_functions():
    tree = ast.parse((PACKAGE_DIR / "_cpp.pyi").read_text())
    result = {}
    for node in tree.body:
        # a class stands for its constructor (`self` left out)
        init = node if isinstance(node, ast.FunctionDef) else next(
            (f for f in getattr(node, "body", ()) if isinstance(f, ast.FunctionDef)
             and f.name == "__init__"), None)
        if init is not None:
            args = init.args.args
            defaults = [None] * (len(args) - len(init.args.defaults)) + init.args.defaults
            result[node.name] = [(a.arg.lstrip("_"), d is not None) for a, d in zip(args, defaults)
                                 if init is node or a.arg != "self"]
    return result


def _binding_functions(module):
    result = {}
    for name in dir(module):
        if name.startswith("__"):
            continue
        obj = getattr(module, name)
        entry = obj.__init__ if isinstance(obj, type) else obj
        signature = entry.__doc__.strip().splitlines()[0]
        params = re.match(r"\w+\((.*)\) -> ", signature).group(1)
        result[name] = [(p.split(":")[0].strip(), " = " in p)
                        for p in re.split(r",\s*(?=\w+:)", params)
                        if obj is entry or not p.startswith("self:")] if params else []
    return result


def test_the_cpp_stub_matches_the_bindings():
    _cpp = pytest.importorskip("fastmlp._cpp")
    assert _stub_functions() == _binding_functions(_cpp)
