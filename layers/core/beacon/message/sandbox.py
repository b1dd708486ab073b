"""The Jinja2 environment campaign templates run in: what a template may reach, and how much it may do.

Jinja's ImmutableSandboxedEnvironment keeps a template away from Python internals, files, the
environment and from changing the values it is given. This one also bounds what a template may
cost, so a hostile tenant cannot stall a send fleet or exhaust its memory:

- time: every loop iteration and every call ticks a per-render budget (MAX_RENDER_SECONDS of the
  rendering thread's CPU; a cheap wall-clock check first, the CPU clock only once that has passed);
- size: no single value grows past MAX_VALUE_CHARS (string and list `*`, `+`, `~`, `%`, replace,
  join, format, padding, indent, wordwrap, batch, slice, sum are checked *before* they build their
  result when it could be far larger than their inputs, after otherwise), a rendered part or a
  captured block is at most MAX_OUTPUT_CHARS, and a list, dict or namespace is turned into text
  only if that text stays under MAX_VALUE_CHARS (a list of a thousand references to one long
  string is short as a list and huge as text);
- str methods: an allowlist (no translate, expandtabs, encode...), widths and counts bounded;
  integers stay under MAX_INT_BITS; range() stays under Jinja's 100,000; lipsum is bounded.

A template that passes a bound raises SecurityError; beacon.message.rendering turns it into a
TemplateProblem ("not allowed in a template: ...") naming the field.
"""

from __future__ import annotations

import re
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from string import Formatter
from typing import Any

from jinja2 import ChainableUndefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import Namespace, generate_lorem_ipsum
from markupsafe import Markup

MAX_RENDER_SECONDS = 0.1  # CPU seconds per email (subject, HTML and text together)
MAX_VALUE_CHARS = 1_000_000  # any one value a template builds
MAX_OUTPUT_CHARS = 3_000_000  # one rendered part, or one captured block / macro body
MAX_PRODUCT_CHARS = 100_000  # a sequence repeated with *
MAX_POWER_EXPONENT = 100
MAX_INT_BITS = 100_000
MAX_WIDTH = 10_000  # a padding width, an indent, a format width or precision
MAX_SLICES = 10_000
LOOP_FILTER = "beacon_loop_budget"

STR_METHODS = frozenset({
    "capitalize", "casefold", "center", "count", "endswith", "find", "format", "format_map", "index",
    "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
    "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "partition",
    "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip",
    "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper", "zfill",
    "striptags", "unescape",  # Markup's own
})
_PADDING = frozenset({"center", "ljust", "rjust", "zfill"})


class TemplateTooCostly(SecurityError):
    """The template went past one of the bounds."""


# ----------------------------------------------------------------------------- the time budget
class _Budget(threading.local):
    wall_deadline = 0.0  # 0: no render running in this thread
    cpu_deadline = 0.0


_budget = _Budget()


def start_budget() -> None:
    """Give this thread's render its budget (renders do not nest); end_budget() when it is done."""
    _budget.wall_deadline = time.monotonic() + MAX_RENDER_SECONDS
    _budget.cpu_deadline = time.thread_time() + MAX_RENDER_SECONDS


def end_budget() -> None:
    _budget.wall_deadline = 0.0


def tick() -> None:
    """Called at every loop iteration and every call: raise once the render's CPU budget is spent.
    The wall clock is read first (cheap); only once it has passed is the thread's CPU time read, so
    a thread that was merely waiting for the CPU is given the rest of its due."""
    deadline = _budget.wall_deadline
    if deadline and time.monotonic() > deadline:
        left = _budget.cpu_deadline - time.thread_time()
        if left <= 0:
            raise TemplateTooCostly(f"the template took longer than {MAX_RENDER_SECONDS:g} s to render "
                                    "(a loop or a macro that does too much?)")
        _budget.wall_deadline = time.monotonic() + left


@pass_context
def _loop_budget(_context: Any, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        tick()
        yield item


# ----------------------------------------------------------------------------- sizes
def _too_long(what: str, size: int, limit: int = MAX_VALUE_CHARS) -> TemplateTooCostly:
    return TemplateTooCostly(f"{what} would be {size:,} characters long; a template may build at most {limit:,}")


def _namespace_attrs(value: Namespace) -> dict[str, Any]:
    attrs = object.__getattribute__(value, "_Namespace__attrs")
    return attrs if isinstance(attrs, dict) else {}


def text_weight(value: Any, limit: int = MAX_VALUE_CHARS) -> int:
    """About how long str(value) is, counted only up to just past `limit` (the work is bounded by it)."""
    if isinstance(value, str):
        return len(value)
    total = 0
    stack = [value]
    while stack and total <= limit:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + 4
        elif isinstance(v, list | tuple | set | frozenset):
            total += 2 + 2 * len(v)
            if total <= limit:
                stack.extend(v)
        elif isinstance(v, dict):
            total += 2 + 4 * len(v)
            if total <= limit:
                stack.extend(v.keys())
                stack.extend(v.values())
        elif isinstance(v, Namespace):
            attrs = _namespace_attrs(v)
            total += 14 + 4 * len(attrs)
            if total <= limit:
                stack.extend(attrs.keys())
                stack.extend(attrs.values())
        elif isinstance(v, int) and not isinstance(v, bool):
            total += v.bit_length() // 3 + 1
        else:
            total += 64  # a number, None, Undefined, a macro, a cycler: a short repr
    return total


def as_text_ok(value: Any, what: str = "a value") -> Any:
    """`value` unchanged, if turning it into text stays under MAX_VALUE_CHARS."""
    if type(value) is str or isinstance(value, str | int | float | bool) or value is None:
        return value
    weight = text_weight(value)
    if weight > MAX_VALUE_CHARS:
        raise _too_long(f"{what} as text", weight)
    return value


def bounded_concat(parts: Iterable[str]) -> str:
    """The environment's concat (rendered parts, captured blocks, macro bodies): at most MAX_OUTPUT_CHARS."""
    chunks = parts if isinstance(parts, list | tuple) else list(parts)
    size = sum(map(len, chunks))
    if size > MAX_OUTPUT_CHARS:
        raise _too_long("the rendered text", size, MAX_OUTPUT_CHARS)
    return "".join(chunks)


def _fits(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_VALUE_CHARS:
        raise _too_long("a value", len(value))
    return value


def _width(value: Any, what: str) -> None:
    if isinstance(value, int) and abs(value) > MAX_WIDTH:
        raise TemplateTooCostly(f"{what} {value:,} is larger than {MAX_WIDTH:,}")


_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent(fmt: str, args: Any) -> None:
    for m in _PERCENT.finditer(fmt):
        for group in m.groups():
            if group == "*":
                raise TemplateTooCostly("a * width in a % format is not allowed")
            if group and int(group) > MAX_WIDTH:
                raise TemplateTooCostly(f"a % format width {group} is larger than {MAX_WIDTH:,}")
    as_text_ok(args, "a % format argument")
    estimate = len(fmt) + text_weight(args)
    if estimate > MAX_VALUE_CHARS:
        raise _too_long("a % format", estimate)


def _check_format(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for _literal, _field, spec, _conversion in Formatter().parse(fmt):
        if not spec:
            continue
        if "{" in spec:
            raise TemplateTooCostly("a nested {} in a format spec is not allowed")
        for number in re.findall(r"\d+", spec):
            if int(number) > MAX_WIDTH:
                raise TemplateTooCostly(f"a format width {number} is larger than {MAX_WIDTH:,}")
    estimate = len(fmt) + text_weight((args, kwargs))
    if estimate > MAX_VALUE_CHARS:
        raise _too_long("a format", estimate)


def _replaced_length(s: str, old: str, new: str, count: int | None) -> int:
    found = len(s) + 1 if old == "" else s.count(old)
    if count is not None and count >= 0:
        found = min(found, count)
    return len(s) + found * (len(new) - len(old))


def _joined_length(items: list[Any], sep: str) -> int:
    return sum(text_weight(i) for i in items) + len(sep) * max(0, len(items) - 1)


def _check_str_call(owner: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name not in STR_METHODS:
        raise TemplateTooCostly(f"str.{name}() is not allowed in a template")
    if name in _PADDING:
        _width(args[0] if args else kwargs.get("width"), f"{name}() width")
    elif name == "replace" and len(args) >= 2:
        size = _replaced_length(owner, str(args[0]), str(args[1]), args[2] if len(args) > 2 else kwargs.get("count"))
        if size > MAX_VALUE_CHARS:
            raise _too_long("replace()", size)
    elif name == "join" and args:
        items = list(args[0]) if not isinstance(args[0], str) else [args[0]]
        size = _joined_length(items, owner)
        if size > MAX_VALUE_CHARS:
            raise _too_long("join()", size)
    elif name in ("format", "format_map"):
        _check_format(owner, args, kwargs)


def _str_method(obj: Any) -> tuple[str, str] | None:
    """(the str, the method name) when `obj` is a bound method of a str (or the sandbox's format wrapper)."""
    target = getattr(obj, "__wrapped__", obj)
    owner = getattr(target, "__self__", None)
    if isinstance(owner, str):
        return owner, str(getattr(target, "__name__", ""))
    return None


# ----------------------------------------------------------------------------- bounded filters
Precheck = Callable[[tuple[Any, ...], dict[str, Any], Any], None]  # (arguments, keywords, environment)


def _bounded_filter(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A filter that checks its arguments' text weight first and the size of what it built after
    (and, for the filters that can build far more than they are given, that size before)."""
    passed = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0  # the context it is given first
    precheck = _PRECHECKS.get(name)

    @wraps(original)  # keeps jinja_pass_arg: Jinja passes the same first argument
    def checked(*args: Any, **kwargs: Any) -> Any:
        values = args[passed:]
        for value in values:
            if isinstance(value, list | tuple | dict | set | frozenset | Namespace):
                as_text_ok(value, f"the value given to |{name}")
        if precheck is not None:
            precheck(values, kwargs, getattr(args[0], "environment", args[0]) if passed else None)
        return _fits(original(*args, **kwargs))

    return checked


def _pre_replace(values: tuple[Any, ...], kwargs: dict[str, Any], _env: Any) -> None:
    if len(values) >= 3:
        count = values[3] if len(values) > 3 else kwargs.get("count")
        size = _replaced_length(str(values[0]), str(values[1]), str(values[2]), count)
        if size > MAX_VALUE_CHARS:
            raise _too_long("|replace", size)


def _pre_join(values: tuple[Any, ...], kwargs: dict[str, Any], env: Any) -> None:
    if not values:
        return
    items = list(values[0]) if not isinstance(values[0], str) else [values[0]]
    attribute = values[2] if len(values) > 2 else kwargs.get("attribute")
    if attribute is not None:
        getter = make_attrgetter(env, attribute)
        items = [getter(i) for i in items]
    sep = values[1] if len(values) > 1 else kwargs.get("d", "")
    size = _joined_length(items, str(sep))
    if size > MAX_VALUE_CHARS:
        raise _too_long("|join", size)


def _pre_width(what: str) -> Precheck:
    def check(values: tuple[Any, ...], kwargs: dict[str, Any], _env: Any) -> None:
        width = values[1] if len(values) > 1 else kwargs.get("width")
        if isinstance(width, str):
            width = len(width)
        _width(width, what)
        if isinstance(width, int) and values:
            text = str(values[0])
            size = len(text) + (text.count("\n") + 1) * abs(width)
            if size > MAX_VALUE_CHARS:
                raise _too_long(what, size)

    return check


def _pre_wordwrap(values: tuple[Any, ...], kwargs: dict[str, Any], _env: Any) -> None:
    if not values:
        return
    width = values[1] if len(values) > 1 else kwargs.get("width", 79)
    wrap = values[3] if len(values) > 3 else kwargs.get("wrapstring")
    if isinstance(width, int) and width > 0 and wrap:
        text = str(values[0])
        size = len(text) + (len(text) // width + 1) * len(str(wrap))
        if size > MAX_VALUE_CHARS:
            raise _too_long("|wordwrap", size)


def _pre_format(values: tuple[Any, ...], kwargs: dict[str, Any], _env: Any) -> None:
    if values and isinstance(values[0], str):
        _check_percent(values[0], (values[1:], kwargs))


def _pre_count(key: str, limit: int, what: str) -> Precheck:
    def check(values: tuple[Any, ...], kwargs: dict[str, Any], _env: Any) -> None:
        n = values[1] if len(values) > 1 else kwargs.get(key)
        if isinstance(n, int) and abs(n) > limit:
            raise TemplateTooCostly(f"{what} {n:,} is larger than {limit:,}")

    return check


def _pre_sum(values: tuple[Any, ...], kwargs: dict[str, Any], _env: Any) -> None:
    start = values[2] if len(values) > 2 else kwargs.get("start", 0)
    if not isinstance(start, int | float):
        raise TemplateTooCostly("|sum adds numbers only")


# Filters that never turn their value into text nor build more than they are given: not wrapped
# (the common `default` costs nothing more).
_PASS_THROUGH = frozenset({
    "abs", "attr", "count", "d", "default", "dictsort", "first", "float", "groupby", "int", "items", "last",
    "length", "list", "map", "max", "min", "random", "reject", "rejectattr", "reverse", "round", "select",
    "selectattr", "sort", "unique",
})

_PRECHECKS: dict[str, Precheck] = {
    "replace": _pre_replace,
    "join": _pre_join,
    "center": _pre_width("|center width"),
    "indent": _pre_width("|indent width"),
    "wordwrap": _pre_wordwrap,
    "format": _pre_format,
    "batch": _pre_count("linecount", MAX_PRODUCT_CHARS, "|batch size"),
    "slice": _pre_count("slices", MAX_SLICES, "|slice count"),
    "sum": _pre_sum,
}


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if not (0 <= n <= 100 and 0 <= min <= max <= 1000):
        raise TemplateTooCostly("lipsum() is limited to 100 paragraphs of 1,000 words")
    return str(generate_lorem_ipsum(n, html, min, max))


# ----------------------------------------------------------------------------- the environment
class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every for loop's iterable passed through the budget filter and
    every `~` checked before its operands are turned into text."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in node.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.iter.lineno)
        super().visit_Template(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"environment.checked_value({func_name}(environment.checked_operands((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))))")


_PLAIN = frozenset({str, Markup, int, float, bool, type(None)})


def _finalize(value: Any) -> Any:
    """Every {{ value }} before it becomes text."""
    if value.__class__ in _PLAIN:
        return value
    return as_text_ok(value, "an output value")


class StrictSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, stricter (see the module's docstring): reaching for an unsafe
    attribute (`__class__`, `mro`...) is an error the author sees at save, not a quiet empty string."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"**", "*", "+", "%"})
    concat = staticmethod(bounded_concat)

    def __init__(self, autoescape: bool) -> None:
        super().__init__(autoescape=autoescape, undefined=ChainableUndefined, auto_reload=False, finalize=_finalize)
        self.filters = {name: f if name in _PASS_THROUGH else _bounded_filter(f, name) for name, f in FILTERS.items()}
        self.filters[LOOP_FILTER] = _loop_budget
        self.globals["lipsum"] = _lipsum

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed")

    @staticmethod
    def checked_operands(operands: tuple[Any, ...]) -> tuple[Any, ...]:
        for value in operands:
            as_text_ok(value, "a ~ operand")
        return operands

    @staticmethod
    def checked_value(value: Any) -> Any:
        return _fits(value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        tick()
        method = _str_method(__obj)
        if method is not None:
            _check_str_call(method[0], method[1], args, kwargs)
        elif isinstance(__obj, types.BuiltinFunctionType | types.BuiltinMethodType):  # e.g. int.to_bytes
            for value in (*args, *kwargs.values()):
                if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_VALUE_CHARS:
                    raise TemplateTooCostly(f"a number argument {value:,} is larger than {MAX_VALUE_CHARS:,}")
        return _fits(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_POWER_EXPONENT:
                raise SecurityError(f"exponent larger than {MAX_POWER_EXPONENT}")
            if isinstance(left, int) and isinstance(right, int) and right > 0 \
                    and left.bit_length() * right > MAX_INT_BITS:
                raise TemplateTooCostly(f"a number larger than {MAX_INT_BITS:,} bits")
            return left**right
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) \
                        and len(seq) * times > MAX_PRODUCT_CHARS:
                    raise SecurityError(f"a repeated value longer than {MAX_PRODUCT_CHARS}")
            if isinstance(left, int) and isinstance(right, int) \
                    and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateTooCostly(f"a number larger than {MAX_INT_BITS:,} bits")
            return left * right
        if operator == "%" and isinstance(left, str):
            _check_percent(left, right)
            return _fits(left % right)
        if operator == "+":
            return _fits(left + right)
        return super().call_binop(context, operator, left, right)
