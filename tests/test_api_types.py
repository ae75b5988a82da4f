"""The course package's public API is typed: every public function and method annotates its parameters and return.

A function or method is public when its name does not start with ``_``; ``__init__``, ``__call__`` and
``forward`` count as public too. ``self`` / ``cls`` and ``*args`` / ``**kwargs`` need no annotation. Only
what a module defines itself is checked (``obj.__module__ == module.__name__``), not what it imports.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import textwrap
import types

import gptcourse
import gptcourse.data

#: Methods checked although their names start with an underscore.
ALWAYS_PUBLIC = {"__init__", "__call__", "forward"}
#: Parameters that need no annotation wherever they are.
EXEMPT_KINDS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def course_modules() -> list[types.ModuleType]:
    """``gptcourse``, ``gptcourse.data`` and every module in them, except ``gptcourse.__main__`` (the command line)."""
    names = ["gptcourse", "gptcourse.data"]
    for package in (gptcourse, gptcourse.data):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if not info.ispkg and info.name != "gptcourse.__main__":
                names.append(info.name)
    return [importlib.import_module(name) for name in names]


def _function_of(value: object) -> object | None:
    """The function behind a class attribute (a method, static or class method, property), or None."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    elif isinstance(value, property):
        value = value.fget
    if value is None or not inspect.isfunction(inspect.unwrap(value)):
        return None
    return value


def _missing_annotations(function: object, qualified_name: str) -> list[str]:
    """What ``function`` leaves unannotated: one line per parameter, and one for the return."""
    signature = inspect.signature(function)  # follows __wrapped__: decorators (lru_cache, no_grad) are seen through
    missing = []
    for i, parameter in enumerate(signature.parameters.values()):
        if i == 0 and parameter.name in ("self", "cls"):
            continue
        if parameter.kind in EXEMPT_KINDS:
            continue
        if parameter.annotation is inspect.Parameter.empty:
            missing.append(f"{qualified_name}: parameter {parameter.name!r}")
    if signature.return_annotation is inspect.Signature.empty:
        missing.append(f"{qualified_name}: return")
    return missing


def unannotated(module: types.ModuleType) -> list[str]:
    """Every public function and method that ``module`` defines with a parameter or the return unannotated."""
    missing = []
    for name, value in vars(module).items():
        if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(value):
            for attribute, member in vars(value).items():
                if attribute.startswith("_") and attribute not in ALWAYS_PUBLIC:
                    continue
                function = _function_of(member)
                if function is not None:
                    missing += _missing_annotations(function, f"{module.__name__}.{name}.{attribute}")
        elif _function_of(value) is not None:
            missing += _missing_annotations(value, f"{module.__name__}.{name}")
    return missing


def test_every_public_function_and_method_is_annotated():
    offenders = [line for module in course_modules() for line in unannotated(module)]
    assert not offenders, f"{len(offenders)} missing type annotation(s) in the public API:\n  " + "\n  ".join(offenders)


def test_every_module_of_the_package_docstring_is_checked():
    listed = set(re.findall(r":mod:`(gptcourse(?:\.\w+)*)`", gptcourse.__doc__))
    checked = {module.__name__ for module in course_modules()}
    assert listed and listed <= checked, f"not checked: {sorted(listed - checked)}"


def test_the_check_reports_every_unannotated_function_and_method():
    module = types.ModuleType("dummy_api")
    source = '''
        import functools
        from math import sqrt  # not defined here: not checked

        def bare(x, y: int = 0): ...
        def no_return(x: int): ...
        def fine(x: int, *args, **kwargs) -> None: ...
        def _private(x): ...

        @functools.lru_cache(maxsize=None)
        def cached(n): ...

        class Thing:
            def __init__(self, size): ...
            def forward(self, x) -> int: ...
            def method(self, x: int): ...
            def _hidden(self, x): ...

            @property
            def value(self): ...

            @staticmethod
            def make(n: int): ...

            @classmethod
            def build(cls, n) -> "Thing": ...

        class _PrivateThing:
            def method(self, x): ...
    '''
    exec(textwrap.dedent(source), module.__dict__)
    assert unannotated(module) == [
        "dummy_api.bare: parameter 'x'",
        "dummy_api.bare: return",
        "dummy_api.no_return: return",
        "dummy_api.cached: parameter 'n'",
        "dummy_api.cached: return",
        "dummy_api.Thing.__init__: parameter 'size'",
        "dummy_api.Thing.__init__: return",
        "dummy_api.Thing.forward: parameter 'x'",
        "dummy_api.Thing.method: return",
        "dummy_api.Thing.value: return",
        "dummy_api.Thing.make: return",
        "dummy_api.Thing.build: parameter 'n'",
    ]
