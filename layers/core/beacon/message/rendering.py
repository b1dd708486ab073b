"""Campaign templates: Jinja2 in a sandbox, compiled once per content, rendered per recipient.

A template cannot reach Python internals, files or the environment, nor spend more than its time
and size bounds (beacon.message.sandbox); a missing contact attribute renders empty
(ChainableUndefined); HTML output is autoescaped so a contact's attribute cannot inject markup.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.sandbox import SecurityError

from beacon.message.sandbox import StrictSandbox, bounded_concat, end_budget, start_budget

MAX_TEMPLATE_CHARS = 2_000_000
UNSUBSCRIBE_VAR = "unsubscribe_url"

_html_env = StrictSandbox(autoescape=True)
_text_env = StrictSandbox(autoescape=False)


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


def _compile_one(env: StrictSandbox, field: str, source: str) -> Any:
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
    """Render all parts, within the sandbox's bounds (beacon.message.sandbox: MAX_RENDER_SECONDS of
    CPU for the three, MAX_OUTPUT_CHARS each). Raises TemplateProblem when the sandbox stops the template."""
    field = "subject"
    start_budget()
    try:
        subject = compiled.subject.render(context)
        field = "html"
        html_chunks = tuple(compiled.html.generate(context))
        html = bounded_concat(html_chunks)
        field = "text"
        text = compiled.text.render(context) if compiled.text is not None else ""
    except SecurityError as exc:
        raise TemplateProblem(field, f"not allowed in a template: {exc}") from exc
    except TemplateError as exc:
        raise TemplateProblem(field, str(exc), getattr(exc, "lineno", None)) from exc
    except (ArithmeticError, ValueError, TypeError, LookupError, MemoryError, RecursionError) as exc:
        raise TemplateProblem(field, f"{type(exc).__name__}: {exc}") from exc
    finally:
        end_budget()
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
