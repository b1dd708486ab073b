"""The console function's files (beacon.web.console_files): only the table's files are served, with
the console's security headers on every answer; and the console itself (console/) holds together:
every file index.html and the JavaScript modules name exists, and no script writes markup."""

from __future__ import annotations

import base64
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from beacon.web.console_files import CSP, SECURITY_HEADERS, ConsoleFiles, File, load, locate

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "console"


def get(files: ConsoleFiles, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> dict[str, Any]:
    return files.answer({"rawPath": path, "headers": headers or {}, "requestContext": {"http": {"method": method}}})


@pytest.fixture
def site(tmp_path: Path) -> ConsoleFiles:
    (tmp_path / "js").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    (tmp_path / "js" / "main.js").write_text("export const x = 1;\n")
    (tmp_path / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x01")
    (tmp_path / "README.md").write_text("not served")
    (tmp_path / "Makefile").write_text("not served")
    (tmp_path / ".secret.js").write_text("not served")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.js").write_text("not served")
    (tmp_path.parent / "outside.js").write_text("not served")
    return ConsoleFiles(load(tmp_path))


def test_the_index_and_assets_are_served_with_types(site: ConsoleFiles) -> None:
    page = get(site, "/")
    assert page["statusCode"] == 200 and page["body"].startswith("<!doctype html>")
    assert page["headers"]["content-type"] == "text/html; charset=utf-8"
    script = get(site, "/console/js/main.js")
    assert script["statusCode"] == 200 and script["headers"]["content-type"].startswith("text/javascript")
    image = get(site, "/console/img.png")
    assert image["isBase64Encoded"] and base64.b64decode(image["body"]).startswith(b"\x89PNG")


@pytest.mark.parametrize("path", [
    "/console/README.md", "/console/Makefile", "/console/.secret.js", "/console/.git/config.js",
    "/console/../outside.js", "/console/%2e%2e/outside.js", "/console/js/../index.html", "/console//js/main.js",
    "/console/js/", "/console/", "/console", "/index.html", "/console/JS/MAIN.JS", "/console/js/main.js\x00.png",
    "/console/js\\main.js", "/console/" + "a/" * 2000 + "x.js", "/v1/session", "//console/js/main.js",
])
def test_anything_else_is_404_with_the_security_headers(site: ConsoleFiles, path: str) -> None:
    answer = get(site, path)
    assert answer["statusCode"] == 404, path
    assert "not served" not in answer["body"]
    assert answer["headers"]["content-security-policy"] == CSP


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head(site: ConsoleFiles, method: str) -> None:
    answer = get(site, "/", method)
    assert answer["statusCode"] == 405 and answer["headers"]["allow"] == "GET, HEAD"


def test_every_answer_carries_the_security_headers(site: ConsoleFiles) -> None:
    first = get(site, "/console/js/main.js")
    again = get(site, "/console/js/main.js", headers={"if-none-match": f'"nope", {first["headers"]["etag"]}'})
    assert again["statusCode"] == 304 and again["body"] == ""
    for answer in (first, again, get(site, "/nope"), get(site, "/", "POST")):
        for name, value in SECURITY_HEADERS.items():
            assert answer["headers"][name] == value


def test_the_policy_allows_no_inline_script_and_no_eval() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["require-trusted-types-for"] == "'script'"
    assert "unsafe-eval" not in CSP and "unsafe-inline" not in directives["script-src"]


def test_a_folder_without_an_index_is_refused(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text("")
    with pytest.raises(RuntimeError, match=r"index\.html"):
        load(tmp_path)


def test_the_function_finds_its_files_bundled_or_in_the_repository(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEACON_CONSOLE_DIR", raising=False)
    assert locate(ROOT / "functions" / "console") == CONSOLE
    (tmp_path / "console").mkdir()
    assert locate(tmp_path) == tmp_path / "console"
    monkeypatch.setenv("BEACON_CONSOLE_DIR", str(tmp_path / "elsewhere"))
    assert locate(tmp_path) == tmp_path / "elsewhere"


def test_the_handler_serves_the_repository_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEACON_CONSOLE_DIR", raising=False)
    monkeypatch.delenv("BEACON_CONSOLE_RELOAD", raising=False)
    spec = importlib.util.spec_from_file_location("console_handler_under_test", ROOT / "functions/console/handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    answer = module.handler({"rawPath": "/", "headers": {}, "requestContext": {"http": {"method": "GET"}}}, None)
    assert answer["statusCode"] == 200 and '<main id="main"' in answer["body"]


# ------------------------------------------------------------------ the console holds together
@pytest.fixture(scope="module")
def console() -> dict[str, File]:
    return load(CONSOLE)


def test_everything_index_html_loads_is_there(console: dict[str, File]) -> None:
    page = console["index.html"].body.decode()
    named = re.findall(r'(?:src|href)="/console/([^"]+)"', page)
    assert "js/main.js" in named and "css/console.css" in named
    assert all(n in console for n in named), named
    assert "<script>" not in page and "style=" not in page and not re.search(r"\son[a-z]+\s*=", page)


IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'";]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']""",
                    re.MULTILINE)


def test_every_module_import_resolves(console: dict[str, File]) -> None:
    modules = [name for name in console if name.endswith(".js")]
    assert len(modules) >= 10
    for name in modules:
        base = Path(name).parent
        for found in IMPORT.findall(console[name].body.decode()):
            target = next(t for t in found if t)
            assert target.startswith("./") or target.startswith("../"), (name, target)
            resolved = (base / target).as_posix()
            parts: list[str] = []
            for part in resolved.split("/"):
                if part == "..":
                    parts.pop()
                elif part not in (".", ""):
                    parts.append(part)
            assert "/".join(parts) in console, f"{name} imports {target}, which is not there"


MARKUP_SINKS = re.compile(r"\.(?:innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\s*\(|"
                          r"new\s+Function\s*\(|setTimeout\(\s*[\"'`]|\.srcdoc\s*=")


def test_no_script_writes_markup_from_a_string(console: dict[str, File]) -> None:
    """The DOM is built with textContent only; the one exception is the preview's sandboxed frame,
    through the Trusted Types policy the CSP admits (and only in the campaign editor)."""
    for name, file in console.items():
        if not name.endswith(".js"):
            continue
        hits = MARKUP_SINKS.findall(file.body.decode())
        if name == "js/pages/campaign-editor.js":
            assert hits == [".srcdoc ="], hits
            assert 'createPolicy("beacon-preview"' in file.body.decode()
            assert 'sandbox: ""' in file.body.decode()
        else:
            assert hits == [], (name, hits)
