"""Static checks of the student's code cells (run by the grader, never in the student's kernel).

Three kinds of finding:

``reference``  the cell uses the course package's reference implementation of the exercise
               (any import form, ``importlib``/``__import__``, an attribute path such as
               ``gptcourse.ch00_lm.softmax``, or the module's name in a string), or imports a
               module whose name is computed at run time. The exercise earns no points.
``tamper``     the cell reaches into the interpreter or the grader's machinery (IPython hooks,
               ``builtins``, frames, closures, ``gc``, ``ctypes``, signal handlers, ``exec``...).
               The score stands but the submission is flagged for review.
``shadow``     the cell rebinds a builtin or a name the instructor's cells define (a test
               helper such as ``check_close``). Harmless: the tests run with the originals.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass

TAMPER_MODULES = {"builtins", "gc", "ctypes", "inspect", "signal", "IPython", "ipykernel", "marshal", "resource"}
TAMPER_NAMES = {"get_ipython", "globals", "__builtins__", "exec", "eval", "compile", "__import__", "breakpoint"}
TAMPER_ATTRS = {
    "__closure__",
    "__globals__",
    "__code__",
    "__defaults__",
    "__kwdefaults__",
    "__dict__",
    "__func__",
    "__wrapped__",
    "__subclasses__",
    "f_locals",
    "f_globals",
    "f_back",
    "f_builtins",
    "gi_frame",
    "tb_frame",
    "cell_contents",
    "input_transformers_cleanup",
    "input_transformers_post",
    "ast_transformers",
    "showtraceback",
    "user_ns",
    "run_cell",
    "displayhook",
    "excepthook",
}
TAMPER_DOTTED = {
    "sys.modules",
    "sys._getframe",
    "sys.settrace",
    "sys.setprofile",
    "sys.stdout",
    "sys.stderr",
    "os._exit",
    "os.kill",
    "os.killpg",
    "os.fork",
    "os.setsid",
    "threading.settrace",
}


@dataclass(frozen=True)
class Finding:
    kind: str  # "reference" | "tamper" | "shadow"
    detail: str
    line: int = 0

    def __str__(self) -> str:
        return self.detail + (f" (line {self.line})" if self.line else "")


def _to_python(source: str) -> str:
    """The cell as Python: IPython magics (``%timeit``, ``!ls``) turned into calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - any failure: scan the raw text
        return source


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _is_reference(module: str, references: list[str]) -> bool:
    return any(module == r or module.startswith(r + ".") for r in references)


def bound_names(source: str) -> set[str]:
    """Names a cell binds at top level (imports, assignments, def/class, for/with targets)."""
    try:
        tree = ast.parse(_to_python(source))
    except SyntaxError:
        return set()
    names: set[str] = set()

    def targets(node):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                targets(elt)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                targets(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets(node.target)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            targets(node.target)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    targets(item.optional_vars)
    return names


def defined_functions(source: str) -> list[str]:
    """Top-level ``def``/``class`` names of a cell, in order (regex fallback for broken code)."""
    try:
        tree = ast.parse(_to_python(source))
        return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    except SyntaxError:
        return re.findall(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", source, flags=re.M)


def reference_aliases(sources: list[str], references: list[str]) -> set[str]:
    """Names the instructor's cells bind to a reference module itself (``from gptcourse import ch00_lm as
    reference``): the tests use them, and an answer cell that does is using the reference implementation."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(_to_python(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.asname for a in node.names if a.asname and a.name in references}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names |= {a.asname or a.name for a in node.names if f"{node.module}.{a.name}" in references}
    return names


def scan(
    source: str, references: list[str], protected: set[str] = frozenset(), aliases: set[str] = frozenset()
) -> list[Finding]:
    """Every finding in one student code cell. ``protected``: names the instructor's cells bind;
    ``aliases``: those of them bound to a reference module (see :func:`reference_aliases`)."""
    references = [r for r in references if r]
    findings: list[Finding] = []
    add = lambda kind, detail, node=None: findings.append(Finding(kind, detail, getattr(node, "lineno", 0)))  # noqa: E731
    code = _to_python(source)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        for ref in references:
            if ref.split(".")[-1] in source:
                add(
                    "reference",
                    f"mentions the reference module {ref} (the cell does not parse, so it cannot be checked further)",
                )
        return findings

    leaves = {ref.split(".")[-1] for ref in references}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_reference(alias.name, references):
                    add("reference", f"`import {alias.name}` imports the reference implementation", node)
                elif alias.name.split(".")[0] in TAMPER_MODULES or alias.name in TAMPER_MODULES:
                    add("tamper", f"imports `{alias.name}`", node)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            module = node.module
            if _is_reference(module, references):
                add("reference", f"`from {module} import ...` imports the reference implementation", node)
            for alias in node.names:
                full = f"{module}.{alias.name}"
                if alias.name == "*" and any(r.startswith(module + ".") for r in references):
                    add("reference", f"`from {module} import *` can bring in the reference implementation", node)
                elif _is_reference(full, references) and not _is_reference(module, references):
                    add("reference", f"`from {module} import {alias.name}` imports the reference implementation", node)
            if module.split(".")[0] in TAMPER_MODULES or module in TAMPER_MODULES:
                add("tamper", f"imports from `{module}`", node)
        elif isinstance(node, ast.Call) and _dotted(node.func) in ("getattr", "setattr", "delattr", "vars"):
            what = _dotted(node.func)
            key = node.args[1] if what != "vars" and len(node.args) > 1 else None
            literal = isinstance(key, ast.Constant) and isinstance(key.value, str)
            if what == "vars" and node.args:
                add("tamper", "uses `vars(...)`: it reaches an object's attributes by name", node)
            elif key is not None and (not literal or (key.value.startswith("__") and key.value.endswith("__"))):
                shown = repr(key.value) if literal else "a name computed at run time"
                add("tamper", f"uses `{what}(..., {shown})`: attribute access by a dunder or computed name", node)
        elif isinstance(node, ast.Call):
            name = _dotted(node.func) or ""
            if name.split(".")[-1] in ("import_module", "__import__") or name == "__import__":
                args = [a for a in node.args[:1]]
                literal = args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)
                if not literal:
                    add(
                        "reference",
                        f"`{name}(...)` imports a module whose name is computed at run time; "
                        "the grader cannot tell it is not the reference implementation",
                        node,
                    )
                elif _is_reference(args[0].value, references):
                    add("reference", f"`{name}({args[0].value!r})` imports the reference implementation", node)
        elif isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted and _is_reference(dotted, references) and not isinstance(getattr(node, "ctx", None), ast.Store):
                add("reference", f"`{dotted}` uses the reference implementation", node)
            if node.attr in TAMPER_ATTRS:
                add("tamper", f"uses `.{node.attr}`", node)
            elif dotted in TAMPER_DOTTED:
                add("tamper", f"uses `{dotted}`", node)
        elif isinstance(node, ast.Name):
            if node.id in aliases and not isinstance(node.ctx, ast.Store):
                add("reference", f"uses `{node.id}`, the course package's reference module", node)
            elif node.id in leaves:
                add("reference", f"uses the name `{node.id}` of the reference module", node)
            elif node.id in TAMPER_NAMES and not isinstance(node.ctx, ast.Store):
                add("tamper", f"uses `{node.id}`", node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for ref in references:
                if ref in node.value or re.search(rf"\b{re.escape(ref.split('.')[-1])}\b", node.value):
                    add("reference", f"the string {node.value[:60]!r} names the reference module {ref}", node)
    builtin_names = {n for n in vars(builtins) if not n.startswith("_")}
    for name in sorted(bound_names(source)):
        if name in protected:
            add("shadow", f"rebinds `{name}`, which the exercise's own cells define; the tests use the original")
        elif name in builtin_names:
            add("shadow", f"rebinds the builtin `{name}`; the tests use the original")
    # one finding per (kind, detail): a name used ten times is one problem; and of the attribute
    # paths `a.b` and `a.b.c` on one line, only the longer one
    unique: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        unique.setdefault((finding.kind, finding.detail), finding)
    paths = [
        (f.line, f.detail.split("`")[1])
        for f in unique.values()
        if f.detail.endswith("uses the reference implementation")
    ]
    return [
        f
        for f in unique.values()
        if not (
            f.detail.endswith("uses the reference implementation")
            and any(line == f.line and p.startswith(f.detail.split("`")[1] + ".") for line, p in paths)
        )
    ]
