"""Which error codes an endpoint can answer, read from the code itself (for the OpenAPI document).

The error codes of an operation are not typed by hand: starting from the view function (and the decorators
wrapped around it), this walks the functions it calls, module by module, and collects every registered code
written in them (``DomainError("UPLOAD_NOT_ATTACHABLE")``, a ``NotFound()`` whose class names ``NOT_FOUND``,
a code chosen from a table of literals). What it cannot follow — a method called on an object, a hook found
in a registry at run time — it does not guess; the contract tests (tests/contract/) answer every operation
as every role and fail on any status the document does not list, so a code missed here shows up there.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import textwrap
import types
from collections.abc import Callable, Iterable

from backend.errors import CATALOGUE

#: modules whose functions are followed (third-party code raises no catalogued code)
_OWN = ("backend", "mobile_api", "media", "workers")


def _own(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".", 1)[0] in _OWN


def _resolve(node: ast.expr, scope: dict) -> object | None:
    """The object an expression like ``name`` or ``module.sub.func`` names, or None."""
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, scope)
        if base is None:
            return None
        if isinstance(base, types.ModuleType | type):
            return getattr(base, node.attr, None)
        if _own(type(base)):  # a method of a project object (``REQUEST_STATES.apply``), read without running it
            found = inspect.getattr_static(type(base), node.attr, None)
            return found if isinstance(found, types.FunctionType) else None
    return None


def _scope(fn: Callable) -> dict:
    scope = dict(getattr(fn, "__globals__", {}))
    closure = getattr(fn, "__closure__", None) or ()
    for name, cell in zip(fn.__code__.co_freevars, closure, strict=False):
        with contextlib.suppress(ValueError):  # an empty cell
            scope[name] = cell.cell_contents
    return scope


@functools.cache
def _parsed(fn: Callable) -> ast.AST | None:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _callees(obj: object) -> Iterable[Callable]:
    """The project functions an object stands for when called: a function, or a class's constructor."""
    if isinstance(obj, type):
        if _own(obj):
            for klass in obj.__mro__:
                init = klass.__dict__.get("__init__")
                if isinstance(init, types.FunctionType) and _own(init):
                    yield init
        return
    fn = inspect.unwrap(obj) if callable(obj) else None
    for f in (obj, fn):
        if isinstance(f, types.FunctionType) and _own(f):
            yield f


@functools.cache
def _direct(fn: Callable) -> tuple[set[str], list[Callable]]:
    """The codes written in one function, and the project functions it calls."""
    tree = _parsed(fn)
    if tree is None:
        return set(), []
    scope = _scope(fn)
    codes: set[str] = set()
    calls: list[Callable] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in CATALOGUE:
            codes.add(node.value)
        elif isinstance(node, ast.Call | ast.Raise):
            target = node.func if isinstance(node, ast.Call) else node.exc
            if target is not None:
                calls.extend(_callees(_resolve(target, scope)))
    return codes, calls


def layers(fn: Callable) -> list[Callable]:
    """``fn`` and the functions its decorators wrapped (``__wrapped__``), outermost first."""
    out: list[Callable] = []
    layer: Callable | None = fn
    while layer is not None:
        out.append(layer)
        layer = getattr(layer, "__wrapped__", None)
    return out


def reached(fn: Callable) -> set[Callable]:
    """``fn``, its wrappers and every project function they call, transitively (as far as it can be followed)."""
    seen: set[Callable] = set()
    stack = layers(fn)
    while stack:
        f = stack.pop()
        if f in seen:
            continue
        seen.add(f)
        stack.extend(c for c in _direct(f)[1] if c not in seen)
    return seen


def codes_raised(fn: Callable) -> set[str]:
    """Every catalogued code that ``fn``, its wrappers' code and what they call (transitively) can raise."""
    codes: set[str] = set()
    for f in reached(fn):
        codes |= _direct(f)[0]
    return codes
