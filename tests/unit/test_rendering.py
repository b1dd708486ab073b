"""beacon.message.rendering: sandboxed Jinja2 campaign templates, compiled once, rendered per recipient."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from beacon.message.rendering import TemplateProblem, compile_campaign, context_for, render

UNSUB = "https://t.example.com/u/TOKEN"


def ctx(**attributes: Any) -> dict[str, Any]:
    return context_for("jane@example.com", attributes, "Acme & Co", "Winter sale", UNSUB)


def render_html(source: str, **attributes: Any) -> str:
    return render(compile_campaign("subject", source, None), ctx(**attributes)).html


# ---------------------------------------------------------------------------- variables


def test_the_documented_variables_render() -> None:
    compiled = compile_campaign(
        "{{ campaign.name }} for {{ contact.first_name }}",
        "<p>{{ contact.email }} {{ account.company }} <a href='{{ unsubscribe_url }}'>u</a></p>",
        "{{ contact.email }} / {{ unsubscribe_url }}",
    )
    out = render(compiled, ctx(first_name="Jane"))
    assert out.subject == "Winter sale for Jane"
    assert out.html == "<p>jane@example.com Acme &amp; Co <a href='https://t.example.com/u/TOKEN'>u</a></p>"
    assert out.text == f"jane@example.com / {UNSUB}"


@pytest.mark.parametrize(
    "source",
    [
        "[{{ contact.missing }}]",
        "[{{ contact.a.b }}]",
        "[{{ contact.a.b.c.d }}]",
        "[{{ contact['a']['b'] }}]",
        "[{{ nothing_at_all }}]",
        "[{{ nothing.at.all }}]",
        "[{{ contact.missing | upper }}]",
        "[{{ contact.missing | default('') }}]",
    ],
)
def test_missing_attributes_render_empty(source: str) -> None:
    assert render_html(source) == "[]"


def test_missing_attributes_are_falsy_and_default_applies() -> None:
    assert render_html("{% if contact.city %}in {{ contact.city }}{% else %}nowhere{% endif %}") == "nowhere"
    assert render_html("{{ contact.first_name | default('friend', true) }}") == "friend"
    assert render_html("{{ contact.first_name | default('friend', true) }}", first_name="Ann") == "Ann"


def test_no_text_template_renders_empty_text() -> None:
    out = render(compile_campaign("s", "<p>h</p>", None), ctx())
    assert out.text == ""


# ---------------------------------------------------------------------------- escaping


def test_html_autoescapes_contact_values_but_text_does_not() -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    compiled = compile_campaign("Hi {{ contact.name }}", "<p>{{ contact.name }}</p>", "Hi {{ contact.name }}")
    out = render(compiled, ctx(name=evil))
    assert "<script>" not in out.html
    assert "<img" not in out.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in out.html
    assert out.text == f"Hi {evil}"
    assert out.subject == f"Hi {evil}"


def test_attribute_cannot_break_out_of_an_html_attribute() -> None:
    html = render_html('<a href="https://example.com/?n={{ contact.name }}">x</a>', name='" onclick="alert(1)')
    assert 'onclick="alert' not in html
    assert "&#34; onclick=&#34;alert(1)" in html


def test_the_template_author_can_still_write_markup() -> None:
    assert render_html("<b>{{ '<i>' }}</b>{{ '<u>' | safe }}") == "<b>&lt;i&gt;</b><u>"


# ---------------------------------------------------------------------------- subject


@pytest.mark.parametrize(
    "value",
    [
        "Jane\r\nBcc: victim@example.com",
        "Jane\nBcc: victim@example.com",
        "Jane\rBcc: victim@example.com",
        "Jane\u2028Bcc: victim@example.com",
        "Jane\x85Bcc: victim@example.com",
        "Jane\t\v\fBcc: victim@example.com",
    ],
)
def test_subject_collapses_line_breaks_from_attributes(value: str) -> None:
    out = render(compile_campaign("Hello {{ contact.name }}!", "<p>x</p>", None), ctx(name=value))
    assert out.subject == "Hello Jane Bcc: victim@example.com!"
    assert not any(ch in out.subject for ch in "\r\n\x0b\x0c\x85\u2028\u2029")


def test_subject_whitespace_from_the_template_is_collapsed_too() -> None:
    out = render(compile_campaign("  Hello\n\n  {{ contact.name }}  ", "<p>x</p>", None), ctx(name="Jane"))
    assert out.subject == "Hello Jane"


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("subject", "html", "text", "field", "line"),
    [
        ("Hi {{ contact.name", "<p>ok</p>", None, "subject", 1),
        ("ok", "<p>\n\n{{ contact.name </p>", None, "html", 3),
        ("ok", "line 1\nline 2\n{% if contact.x %}\nunclosed", None, "html", 3),
        ("ok", "a\nb\nc\nd\n{% endfor %}", None, "html", 5),
        ("ok", "a\n{{ }}", None, "html", 2),
        ("ok", "<p>ok</p>", "one\ntwo\n{% for %}", "text", 3),
        ("ok", "<p>ok</p>", "{{ contact.x | no_such_filter }}", "text", 1),
    ],
)
def test_syntax_errors_raise_template_problem_with_field_and_line(
    subject: str, html: str, text: str | None, field: str, line: int
) -> None:
    with pytest.raises(TemplateProblem) as info:
        compile_campaign(subject, html, text)
    assert info.value.field == field
    assert info.value.line == line
    assert f"(line {line})" in str(info.value)
    assert str(info.value).startswith(field)


def test_template_problem_is_a_value_error_with_a_message() -> None:
    with pytest.raises(ValueError, match="html"):
        compile_campaign("ok", "{% if %}", None)


def test_a_runtime_error_names_the_field() -> None:
    compiled = compile_campaign("ok", "<p>ok</p>", "{{ 1 / 0 }}")
    with pytest.raises(TemplateProblem) as info:
        render(compiled, ctx())
    assert info.value.field == "text"


# ---------------------------------------------------------------------------- sandbox

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ [].__class__.__base__.__subclasses__() }}",
    "{{ ''|attr('__class__') }}",
    "{{ contact.__class__ }}",
    "{{ contact|attr('__class__') }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ lipsum.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__ }}",
    "{{ url_for.__globals__ }}",
    "{{ get_flashed_messages.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ '{0.__class__.__mro__}'.format('') }}",
    "{{ '{0.__init__.__globals__}'.format(cycler) }}",
    "{{ '%s' % ''.__class__ }}",
    "{{ '%s'|format(cycler.__init__) }}",
    "{% for x in range(10**9) %}{{ x }}{% endfor %}",
    "{% for x in range(100001) %}{% endfor %}",
    "{{ range(10**9)|list|length }}",
    "{% set c = ''.__class__ %}{{ c }}",
    "{% for c in ''.__class__.__mro__ %}{{ c }}{% endfor %}",
    "{{ contact.__dict__ }}",
    "{{ (0).__class__.__subclasses__() }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{{ ''.join.__self__.__class__ }}",
    "{{ environment }}",
    "{{ self.__dict__ }}",
]

FORBIDDEN = ("<class", "&lt;class", "<module", "&lt;module", "<function", "&lt;function", "os.environ",
             "posix", "__builtins__", "subprocess", "uid=", "PATH", "HOME")


@pytest.mark.parametrize("source", ESCAPES)
@pytest.mark.parametrize("field", ["subject", "html", "text"])
def test_sandbox_escapes_fail_or_render_nothing_harmful(source: str, field: str) -> None:
    parts = {"subject": "s", "html": "<p>h</p>", "text": "t"}
    parts[field] = source
    try:
        compiled = compile_campaign(parts["subject"], parts["html"], parts["text"])
        out = render(compiled, ctx(name="Jane"))
    except TemplateProblem as exc:
        assert exc.field == field
        return
    rendered = {"subject": out.subject, "html": out.html, "text": out.text}[field]
    for marker in FORBIDDEN:
        assert marker not in rendered, (source, rendered[:300])
    assert len(rendered) < 10_000


def test_range_over_the_limit_is_a_template_problem_at_render() -> None:
    compiled = compile_campaign("s", "{% for x in range(10**9) %}.{% endfor %}", None)
    with pytest.raises(TemplateProblem) as info:
        render(compiled, ctx())
    assert info.value.field == "html"


def test_a_template_cannot_change_what_the_next_recipient_sees() -> None:
    compiled = compile_campaign("s", "{{ contact.update({'email': 'x@evil.example'}) }}{{ contact.email }}", None)
    first = ctx()
    with contextlib.suppress(TemplateProblem):
        render(compiled, first)
    second = render(compile_campaign("s", "{{ contact.email }}", None), ctx())
    assert second.html == "jane@example.com"


def test_constant_that_cannot_be_printed_is_a_template_problem_at_compile() -> None:
    try:
        compiled = compile_campaign("s", "{{ 10**5000 }}", None)
        with pytest.raises(TemplateProblem):
            render(compiled, ctx())
    except TemplateProblem as exc:
        assert exc.field == "html"


_DOS_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from beacon.message.rendering import TemplateProblem, compile_campaign, context_for, render
    for source in sys.argv[1:]:
        try:
            compiled = compile_campaign("s", source, None)
            out = render(compiled, context_for("a@example.com", {}, "c", "n", "https://u"))
            print("rendered", len(out.html))
        except TemplateProblem as exc:
            print("problem", exc.field)
    """
)


def test_huge_power_does_not_hang() -> None:
    sources = ["{{ (9**(9**8)) > 1 }}", "{% set n = 9 %}{{ (n**(n**n)) > 1 }}"]
    done = subprocess.run(
        [sys.executable, "-c", _DOS_SCRIPT, *sources], capture_output=True, text=True, timeout=2.0, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["problem html", "problem html"], done.stdout


# ---------------------------------------------------------------------------- compile cache and unsubscribe


def test_compile_cache_returns_the_same_object_for_the_same_content() -> None:
    a = compile_campaign("Subject {{ contact.x }}", "<p>cache-test</p>", "text")
    b = compile_campaign("Subject {{ contact.x }}", "<p>cache-test</p>", "text")
    assert a is b
    assert compile_campaign("Subject {{ contact.x }}", "<p>cache-test</p>", "text 2") is not a
    assert compile_campaign("Subject {{ contact.x }}", "<p>cache-test</p>", None) is not a


def test_compile_cache_does_not_confuse_field_boundaries() -> None:
    a = compile_campaign("ab", "c", None)
    b = compile_campaign("a", "bc", None)
    assert render(a, ctx()).subject == "ab"
    assert render(b, ctx()).subject == "a"


def test_compiled_templates_do_not_leak_between_recipients() -> None:
    compiled = compile_campaign("Hi {{ contact.name }}", "<p>{{ contact.name }}</p>", "{{ contact.name }}")
    assert render(compiled, ctx(name="Ann")).html == "<p>Ann</p>"
    assert render(compiled, ctx()).html == "<p></p>"


def test_context_for_email_wins_over_an_email_attribute() -> None:
    context = context_for("real@example.com", {"email": "fake@example.com", 7: "seven"}, "Co", "Camp", UNSUB)
    assert context["contact"]["email"] == "real@example.com"
    assert context["contact"]["7"] == "seven"
    assert context["unsubscribe_url"] == UNSUB
    assert context["account"] == {"company": "Co"}
    assert context["campaign"] == {"name": "Camp"}
