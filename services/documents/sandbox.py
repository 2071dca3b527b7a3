"""The sandbox a tenant's templates run in: Jinja2's immutable sandbox, on a budget.

Concept
    Jinja2's sandbox keeps a template from reaching Python (no ``__class__``, no changing what
    it is given) but not from spending: a loop within a loop, a macro calling itself twice,
    ``'x' * 10**9`` or ``'x'|center(10**9)`` would hold a worker for hours or take all its
    memory. Here a template is written out on a *budget* counted in steps and characters, not
    seconds, so the same template and document always pass or fail alike:

    - a step is a turn of a loop, a call, a filter or a test, an operator, an attribute read;
      one document takes at most :data:`STEPS`;
    - every text and list a template builds counts its length against :data:`CHARACTERS`
      (its output too), checked *before* it is built wherever the size is known beforehand:
      ``*``, ``+``, ``~``, ``%``, and the filters that lengthen (``center``, ``indent``,
      ``format``, ``join``, ``replace``, ``wordwrap``, ``batch``, ``slice``); numbers stay
      under :data:`INTEGER_BITS`;
    - a document's HTML is at most :data:`DOCUMENT_CHARACTERS` long (the PDF engine's work
      grows with it).

    A template may call only what a document needs: its macros and blocks, ``loop``'s
    helpers, ``range``, ``dict``, ``namespace``, ``cycler``, ``joiner``, and the methods of
    text, lists, mappings and dates that do not lengthen what they are given. It writes out
    values (text, numbers, dates, amounts, and collections and records of them), never a
    function or an object, whose text would change from one run to the next; ``random`` and
    ``lipsum`` are not offered. So a document is written the same way every time and a
    reprint hashes as what was sent.

Invariants
    - Spending past the budget raises :class:`OverBudget`; calling or writing what is not
      offered raises :class:`jinja2.exceptions.SecurityError`: both are the template's failure
      (``invalid_template``, said by :mod:`services.documents.rendering`).
    - The budget belongs to one writing-out (:func:`budgeted`, outside which nothing is
      written), kept in a context variable: environments are cached and shared by threads.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from decimal import Decimal
from typing import Any, Final

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import BlockReference, Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from jinja2.utils import Cycler, Joiner, Namespace

from domain.money import Money

#: Steps one document may take: ~12 times what the default statement of 5,000 lines takes.
STEPS: Final = 1_000_000
#: Characters (and list items) a template may build while writing one document out.
CHARACTERS: Final = 16_000_000
#: The longest HTML a document may be (the statement of 5,000 lines is ~630,000).
DOCUMENT_CHARACTERS: Final = 4_000_000
#: The largest whole number a template may compute, in bits.
INTEGER_BITS: Final = 4096

#: The built-in filters offered (``random``, ``pprint``, ``urlize`` are not).
_FILTERS: Final = frozenset(
    [
        "abs",
        "attr",
        "batch",
        "capitalize",
        "center",
        "count",
        "d",
        "default",
        "dictsort",
        "e",
        "escape",
        "filesizeformat",
        "first",
        "float",
        "forceescape",
        "format",
        "groupby",
        "indent",
        "int",
        "items",
        "join",
        "last",
        "length",
        "list",
        "lower",
        "map",
        "max",
        "min",
        "reject",
        "rejectattr",
        "replace",
        "reverse",
        "round",
        "safe",
        "select",
        "selectattr",
        "slice",
        "sort",
        "string",
        "striptags",
        "sum",
        "title",
        "tojson",
        "trim",
        "truncate",
        "unique",
        "upper",
        "urlencode",
        "wordcount",
        "wordwrap",
        "xmlattr",
    ]
)
#: The methods a template may call, by the type they belong to: none makes its value longer
#: than a few times what it was given.
_METHODS: Final[tuple[tuple[type, frozenset[str]], ...]] = (
    (
        str,
        frozenset(
            [
                "capitalize",
                "casefold",
                "count",
                "endswith",
                "find",
                "index",
                "isalnum",
                "isalpha",
                "isascii",
                "isdecimal",
                "isdigit",
                "islower",
                "isnumeric",
                "isspace",
                "istitle",
                "isupper",
                "lower",
                "lstrip",
                "partition",
                "removeprefix",
                "removesuffix",
                "rfind",
                "rindex",
                "rpartition",
                "rsplit",
                "rstrip",
                "split",
                "splitlines",
                "startswith",
                "strip",
                "swapcase",
                "title",
                "upper",
            ]
        ),
    ),
    (dict, frozenset({"get", "items", "keys", "values"})),
    (list, frozenset({"count", "index"})),
    (tuple, frozenset({"count", "index"})),
    (date, frozenset({"isoformat", "isoweekday", "strftime", "weekday"})),
    (LoopContext, frozenset({"changed", "cycle"})),
    (Cycler, frozenset({"next", "reset"})),
)
#: What a template may call itself (the globals it is given, its macros, blocks, loops).
_CALLABLE_GLOBALS: Final = (safe_range, dict, Cycler, Joiner, Namespace)
_CALLABLE_TYPES: Final = (Macro, BlockReference, LoopContext, Joiner)
#: Values a template may write out as text.
_VALUES: Final = (str, int, float, Decimal, date, Money, range, jinja2.Undefined)
_PRINTF: Final = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?[A-Za-z%]")
#: The most a value's text may grow by one printf specification beyond its width (the
#: digits of a float).
_PRINTF_SLACK: Final = 320


class OverBudget(Exception):
    """A template asked for more than one document may take; the sentence says what."""


@dataclasses.dataclass
class Budget:
    """What is left of one writing-out's budget."""

    steps: int = STEPS
    characters: int = CHARACTERS

    def step(self, count: int = 1) -> None:
        self.steps -= count
        if self.steps < 0:
            raise OverBudget(
                f"takes more than {STEPS:,} steps (turns of loops, calls, filters), more than"
                " a document may take"
            )

    def build(self, size: int) -> None:
        self.characters -= size
        if self.characters < 0:
            raise OverBudget(
                f"builds more than {CHARACTERS:,} characters of text, more than a document may take"
            )


_BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


@contextmanager
def budgeted() -> Iterator[Budget]:
    """A fresh budget for what is written out inside the block."""
    budget = Budget()
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def _budget() -> Budget:
    budget = _BUDGET.get()
    if budget is None:
        raise RuntimeError("A template is written out within budgeted(), on a budget of its own.")
    return budget


def _size(value: object) -> int:
    if isinstance(value, str | bytes | list | tuple | dict):
        return len(value)
    return 0


def _whole_number_bits(operator: str, left: object, right: object) -> int:
    """At most how many bits ``left <operator> right`` has, if both are whole numbers."""
    if not (isinstance(left, int) and isinstance(right, int)):
        return 0
    if operator == "*":
        return left.bit_length() + right.bit_length()
    if operator == "**":
        return left.bit_length() * right if abs(left) > 1 and right > 0 else 1
    return max(left.bit_length(), right.bit_length()) + 1


def _writable(value: object, budget: Budget, depth: int = 0) -> bool:
    """Whether ``value`` is a value, whose text is the same every time (see the module)."""
    budget.step()
    if value is None or isinstance(value, _VALUES):
        return True
    if depth > 16:
        return False
    if isinstance(value, list | tuple):
        return all(_writable(item, budget, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(
            _writable(key, budget, depth + 1) and _writable(item, budget, depth + 1)
            for key, item in value.items()
        )
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return all(
            _writable(getattr(value, field.name), budget, depth + 1)
            for field in dataclasses.fields(value)
        )
    return False


def _what(value: object) -> str:
    return getattr(value, "__qualname__", None) or type(value).__name__


def _check_writable(value: object, budget: Budget) -> None:
    if not _writable(value, budget):
        raise SecurityError(
            f"it writes out {_what(value)}, which is no value a document holds (a function or"
            " an object's text differs from one run to the next)"
        )


def _printf_size(template: str, values: object, budget: Budget) -> int:
    """At most how long ``template % values`` is."""
    _check_writable(values, budget)
    if isinstance(values, dict):
        items: Iterable[object] = values.values()
    elif isinstance(values, tuple):
        items = values
    else:
        items = (values,)
    widest = max((len(str(item)) for item in items), default=0)
    size = len(template)
    for width, precision in _PRINTF.findall(template):
        if "*" in (width, precision):
            raise SecurityError("a width or precision taken from the values (*) is not offered")
        size += int(width or 0) + int(precision or 0) + widest + _PRINTF_SLACK
    return size


# ------------------------------------------------------------------ filters

_PASSED: Final = (jinja2.Environment, Context, nodes.EvalContext)


def _center(value: Any, width: int = 80) -> None: ...
def _indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> None: ...
def _format(value: Any, *args: Any, **kwargs: Any) -> None: ...
def _join(value: Any, d: Any = "", attribute: Any = None) -> None: ...
def _replace(s: Any, old: Any, new: Any, count: Any = None) -> None: ...
def _wordwrap(s: Any, width: int = 79, break_long_words: bool = True, wrapstring: Any = None, break_on_hyphens: bool = True) -> None: ...  # fmt: skip
def _batch(value: Any, linecount: int, fill_with: Any = None) -> None: ...
def _slice(value: Any, slices: int, fill_with: Any = None) -> None: ...
def _sum(iterable: Any, attribute: Any = None, start: Any = 0) -> None: ...


#: The filters that can build more than they are given: their parameters (as Jinja2's,
#: after what Jinja2 passes them first), to reckon what they will build before they do.
_LENGTHENING: Final = {
    shape.__name__[1:]: inspect.signature(shape)
    for shape in (_center, _indent, _format, _join, _replace, _wordwrap, _batch, _slice, _sum)
}


def _lengthens(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Charge what filter ``name`` will build before it builds it; the arguments to call it
    with (``join`` is given its values as a list: it reads them once, here)."""
    passed = 0
    while passed < len(args) and isinstance(args[passed], _PASSED):
        passed += 1
    bound = _LENGTHENING[name].bind(*args[passed:], **kwargs)
    bound.apply_defaults()
    given = bound.arguments
    if name == "center":
        budget.build(max(len(str(given["value"])), int(given["width"])))
    elif name == "indent":
        text, width = str(given["s"]), given["width"]
        lines = text.count("\n") + 1
        budget.build(len(text) + lines * (len(width) if isinstance(width, str) else int(width)))
    elif name == "format":
        budget.build(_printf_size(str(given["value"]), given["kwargs"] or given["args"], budget))
    elif name == "join":
        items = list(given["value"])
        _check_writable(items, budget)
        separator = len(str(given["d"]))
        budget.build(sum(len(str(item)) for item in items) + separator * len(items))
        given["value"] = items
    elif name == "replace":
        text, old, new = str(given["s"]), str(given["old"]), str(given["new"])
        count = len(text) + 1 if not old else text.count(old)
        if given["count"] is not None:
            count = min(count, max(int(given["count"]), 0))
        budget.build(len(text) + count * max(len(new) - len(old), 0))
    elif name == "wordwrap":
        text, width = str(given["s"]), max(int(given["width"]), 1)
        wrap = len(str(given["wrapstring"] or "\n"))
        budget.build(len(text) + (len(text) // width + text.count("\n") + 1) * wrap)
    elif name == "batch":
        budget.build(max(int(given["linecount"]), 0))
    elif name == "slice":
        budget.build(max(int(given["slices"]), 0))
    elif name == "sum" and not isinstance(given["start"], int | float | Decimal | Money):
        raise SecurityError("the sum filter adds numbers and amounts")
    return (*args[:passed], *bound.args), dict(bound.kwargs)


def counted_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """Filter ``name`` on the budget: a step, its values checked, what it builds charged."""
    lengthens = name in _LENGTHENING

    @functools.wraps(function)  # keeps how Jinja passes it the environment or the context
    def counted(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.step()
        for value in (*args, *kwargs.values()):
            if not isinstance(value, (*_PASSED, Iterator)):
                _check_writable(value, budget)
        if lengthens:
            args, kwargs = _lengthens(name, args, kwargs, budget)
        result = function(*args, **kwargs)
        budget.build(_size(result))
        return result

    return counted


def _counted_test(function: Any) -> Callable[..., Any]:
    @functools.wraps(function)
    def counted(*args: Any, **kwargs: Any) -> Any:
        _budget().step()
        return function(*args, **kwargs)

    return counted


# ------------------------------------------------------------------ loops and joins


class _CountingCode(CodeGenerator):
    """Jinja2's code, with each loop's turns and each ``~`` on the budget."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:  # noqa: N802 - Jinja2's name
        counted = nodes.EnvironmentAttribute("counted")
        if not (isinstance(node.iter, nodes.Call) and node.iter.node == counted):
            node.iter = nodes.Call(counted, [node.iter], [], None, None, lineno=node.iter.lineno)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.counted_join({join}, (")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


def _concat(parts: Iterable[str]) -> str:
    """``"".join`` on the budget (a macro's, a block's, a document's text)."""
    budget = _budget()
    kept = []
    for part in parts:
        budget.build(len(part))
        kept.append(part)
    return "".join(kept)


# ------------------------------------------------------------------ the environment


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox on a budget, offering what documents need (see the module).
    Every value written out must be a value (``finalize``)."""

    code_generator_class = _CountingCode
    intercepted_binops = frozenset({"+", "-", "*", "**", "%"})
    concat = staticmethod(_concat)

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._written, optimized=False, **options)
        self.filters = {
            name: counted_filter(name, function)
            for name, function in self.filters.items()
            if name in _FILTERS
        }
        self.tests = {name: _counted_test(function) for name, function in self.tests.items()}
        self.globals.pop("lipsum", None)

    @staticmethod
    def _written(value: Any) -> Any:
        _check_writable(value, _budget())
        return value

    def counted(self, iterable: Any) -> Iterator[Any]:
        budget = _budget()
        for item in iterable:
            budget.step()
            yield item

    def counted_join(self, join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        budget = _budget()
        budget.step()
        _check_writable(parts, budget)
        budget.build(sum(len(str(part)) for part in parts))
        return join(parts)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: str | Any) -> Any:
        _budget().step()
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.step()
        if operator == "%" and isinstance(left, str):
            budget.build(_printf_size(left, right, budget))
        elif operator in ("*", "+") and (_size(left) or _size(right)):
            if operator == "+":
                budget.build(_size(left) + _size(right))
            elif isinstance(times := right if _size(left) else left, int):
                budget.build(max(times, 0) * (_size(left) or _size(right)))
        elif _whole_number_bits(operator, left, right) > INTEGER_BITS:
            raise OverBudget(f"computes a number of more than {INTEGER_BITS} bits")
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.step()
        if getattr(obj, "__func__", None) is BudgetedSandbox.counted:  # see _CountingCode
            return self.counted(*args)
        if not _may_call(obj):
            raise SecurityError(f"{_what(obj)} is not something a template may call")
        if isinstance(obj, LoopContext) and args:  # a recursive loop's next level
            args = (self.counted(args[0]), *args[1:])
        if getattr(obj, "__name__", None) == "strftime" and args:
            budget.build(16 * len(str(args[0])))
        result = super().call(context, obj, *args, **kwargs)
        budget.build(_size(result))
        return result


def _may_call(obj: Any) -> bool:
    if isinstance(obj, _CALLABLE_TYPES) or any(obj is offered for offered in _CALLABLE_GLOBALS):
        return True
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", None)
    return any(isinstance(owner, kind) and name in names for kind, names in _METHODS)


__all__ = ["CHARACTERS", "DOCUMENT_CHARACTERS", "STEPS", "BudgetedSandbox", "OverBudget"]
