"""Campaign templates: Jinja2 in a sandbox, compiled once per content, rendered per recipient.

A template cannot reach Python internals, files or the environment (SandboxedEnvironment);
a missing contact attribute renders empty (ChainableUndefined); HTML output is autoescaped so a
contact's attribute cannot inject markup.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_TEMPLATE_CHARS = 2_000_000
UNSUBSCRIBE_VAR = "unsubscribe_url"

MAX_POWER_EXPONENT = 100
MAX_PRODUCT_CHARS = 100_000


class _StrictSandbox(SandboxedEnvironment):
    """Jinja's sandbox, stricter:
    - reaching for an unsafe attribute (`__class__`, `mro`, `func_globals`...) is an error the author
      sees at save, not a quiet empty string;
    - `**` and `*` are bounded (they are also evaluated at compile time for constants), so a
      template cannot spend minutes of CPU or build a 100 MB string.
    """

    intercepted_binops = frozenset({"**", "*"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_POWER_EXPONENT:
                raise SecurityError(f"exponent larger than {MAX_POWER_EXPONENT}")
            return left**right
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) \
                        and len(seq) * times > MAX_PRODUCT_CHARS:
                    raise SecurityError(f"a repeated value longer than {MAX_PRODUCT_CHARS}")
            return left * right
        return super().call_binop(context, operator, left, right)


_html_env = _StrictSandbox(autoescape=True, undefined=ChainableUndefined, auto_reload=False)
_text_env = _StrictSandbox(autoescape=False, undefined=ChainableUndefined, auto_reload=False)


class TemplateProblem(ValueError):
    """A template does not compile or does something the sandbox forbids."""

    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        where = f" (line {line})" if line else ""
        super().__init__(f"{field}{where}: {message}")
        self.field = field
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Compiled:
    subject: Any
    html: Any
    text: Any | None


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str
    # the HTML as the template produced it: its own text (the same strings for every recipient)
    # and the values of its expressions, in order; "".join(html_chunks) == html
    html_chunks: tuple[str, ...]


def _compile_one(env: SandboxedEnvironment, field: str, source: str) -> Any:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateProblem(field, f"is longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(field, exc.message or "syntax error", exc.lineno) from exc
    except SecurityError as exc:
        raise TemplateProblem(field, f"not allowed in a template: {exc}") from exc
    except TemplateError as exc:
        raise TemplateProblem(field, str(exc)) from exc
    except (ArithmeticError, ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise TemplateProblem(field, f"{type(exc).__name__}: {exc}") from exc


_cache: OrderedDict[str, Compiled] = OrderedDict()
_cache_lock = threading.Lock()
# The last compiled campaign, matched by identity: a send batch passes the same three strings for
# each of its 50 recipients, so only the first one hashes the sources.
_last: tuple[str, str, str | None, Compiled] | None = None


def compile_campaign(subject: str, html: str, text: str | None) -> Compiled:
    global _last
    last = _last
    if last is not None and last[0] is subject and last[1] is html and last[2] is text:
        return last[3]
    key = hashlib.sha256("\x00".join((subject, html, text or "\x01")).encode()).hexdigest()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    if hit is None:
        hit = Compiled(
            _compile_one(_text_env, "subject", subject),
            # line ends as \n (what the email gets): the template's own text then holds no \r and
            # its chunks stay the same strings for every recipient (beacon.message.links.rewrite_chunks)
            _compile_one(_html_env, "html", html.replace("\r\n", "\n").replace("\r", "\n")),
            _compile_one(_text_env, "text", text) if text else None,
        )
        with _cache_lock:
            _cache[key] = hit
            while len(_cache) > 64:
                _cache.popitem(last=False)
    _last = (subject, html, text, hit)
    return hit


def render(compiled: Compiled, context: dict[str, Any]) -> Rendered:
    """Render all parts. Raises TemplateProblem when the sandbox stops the template."""
    field = "subject"
    try:
        subject = compiled.subject.render(context)
        field = "html"
        html_chunks = tuple(compiled.html.generate(context))
        html = "".join(html_chunks)
        field = "text"
        text = compiled.text.render(context) if compiled.text is not None else ""
    except SecurityError as exc:
        raise TemplateProblem(field, f"not allowed in a template: {exc}") from exc
    except TemplateError as exc:
        raise TemplateProblem(field, str(exc), getattr(exc, "lineno", None)) from exc
    except (ArithmeticError, ValueError, TypeError, LookupError, MemoryError, RecursionError) as exc:
        raise TemplateProblem(field, f"{type(exc).__name__}: {exc}") from exc
    # a subject is one line, whatever a contact's attributes hold
    subject = " ".join(subject.split())
    return Rendered(subject, html, text, html_chunks)


def context_for(email: str, attributes: dict[str, Any], company: str, campaign_name: str,
                unsubscribe_url: str) -> dict[str, Any]:
    contact = {str(k): v for k, v in attributes.items()}
    contact["email"] = email
    return {
        "contact": contact,
        "account": {"company": company},
        "campaign": {"name": campaign_name},
        UNSUBSCRIBE_VAR: unsubscribe_url,
    }
