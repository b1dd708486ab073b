"""CSV parsing for contact imports: survives the shapes real exports come in.

UTF-8 with or without BOM (Latin-1 fallback), `,` `;` or tab delimiters (sniffed from the
header), quoted fields with embedded delimiters, quotes and newlines, CRLF, and a header row
naming `email` in any case; every other column becomes an attribute.

Lenient on the email cell only, for what exports and hand-made sheets hold: a `mailto:` link
(`mailto:ann@x.com?subject=Hi` -> `ann@x.com`) and a display-name address (`Ann Lee <ann@x.com>`
-> `ann@x.com`; the name is not kept). The address itself is then judged by beacon.shared.addresses.
A file whose first line is already data (a pasted list of addresses, no header row) is read as
headerless: the first column holding an address is the email, other columns are dropped.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from beacon.audience.attributes import attribute_name

MAX_BYTES = 9 * 1024 * 1024
MAX_ROWS = 100_000
EMAIL_HEADERS = ("email", "e-mail", "email address", "e-mail address", "email_address", "mail",
                 "e-mail 1 - value", "email 1 - value")  # the last two: Google Contacts exports

csv.field_size_limit(64 * 1024)


class CsvProblem(ValueError):
    """The file as a whole cannot be imported (no header, no email column, not text)."""


@dataclass
class ParsedCsv:
    rows: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # (row number, email, attrs)
    skipped: list[dict[str, Any]] = field(default_factory=list)


def decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise CsvProblem(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CsvProblem("the file is not valid UTF-16") from exc
    if b"\x00" in data:
        raise CsvProblem("the file is binary, not CSV text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")  # what Excel on Windows writes: curly quotes, €
    except UnicodeDecodeError:
        return data.decode("latin-1")


DELIMITERS = (",", ";", "\t", "|")
_DISPLAY_NAME = re.compile(r"^[^<>]*<([^<>]*)>\s*$")


def _unquoted(line: str) -> str:
    """The line without its double-quoted sections (a delimiter inside quotes does not count)."""
    return re.sub(r'"(?:[^"]|"")*("|$)', "", line)


def _email_column(header: list[str]) -> int | None:
    names = [h.strip().strip("\ufeff").strip().strip('"').strip().lower() for h in header]
    return next((names.index(h) for h in EMAIL_HEADERS if h in names), None)


def _delimiter(header_line: str) -> str:
    """The delimiter of the header line: of those it holds outside quotes, the first (by count) that
    splits it into a header with an email column; else the most frequent; else a comma."""
    bare = _unquoted(header_line)
    counts = {d: bare.count(d) for d in DELIMITERS}
    ranked = sorted((d for d in DELIMITERS if counts[d]), key=lambda d: -counts[d])
    for d in ranked:
        header = next(csv.reader([header_line], delimiter=d), [])
        if _email_column(header) is not None or any(_looks_like_address(cell) for cell in header):
            return d
    return ranked[0] if ranked else ","


def _looks_like_address(cell: str) -> bool:
    value = email_cell(cell).strip()
    local, at, domain = value.rpartition("@")
    return bool(at and local and "." in domain and " " not in value)


def column_name(header: str, index: int) -> str:
    """A header cell as an attribute name usable in a template: `Business Country/Region` ->
    `business_country_region`, `Straße` -> `strasse`, `Prénom` -> `prenom`; a header with nothing
    usable (e.g. `名前`) -> `column_{n}` (1-based)."""
    name = attribute_name(header)
    if re.fullmatch(r"[a-z_][a-z0-9_]{0,63}", name):
        return name
    folded = "".join(c for c in unicodedata.normalize("NFKD", header) if not unicodedata.combining(c)).casefold()
    name = re.sub(r"[^a-z0-9]+", "_", folded).strip("_")[:64].rstrip("_")
    if not name:
        return f"column_{index + 1}"
    return f"_{name}"[:64] if name[0].isdigit() else name


def email_cell(raw: str) -> str:
    """The address in an email cell: `mailto:` and `Name <addr>` forms reduced to the address;
    anything else unchanged (beacon.shared.addresses decides whether it is one)."""
    value = raw.strip()
    match = _DISPLAY_NAME.match(value)
    if match:
        value = match.group(1).strip()
    if value[:7].lower() == "mailto:":
        value = value[7:].split("?", 1)[0].strip()
    return value if value != raw.strip() else raw


def parse(data: bytes) -> ParsedCsv:
    text = decode(data)
    first_line = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=False)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise CsvProblem("the file is empty") from exc
    except csv.Error as exc:
        raise CsvProblem(f"the header row does not parse: {exc}") from exc
    email_col = _email_column(header)
    parsed = ParsedCsv()
    columns: list[tuple[int, str]] = []
    if email_col is None:
        email_col = next((i for i, cell in enumerate(header) if _looks_like_address(cell)), None)
        if email_col is None:
            raise CsvProblem("the header row has no 'email' column")
        parsed.rows.append((1, email_cell(header[email_col]), {}))  # headerless: line 1 is a contact
    else:
        columns = [(i, column_name(h, i)) for i, h in enumerate(header) if i != email_col and h.strip()]
    while True:
        row_number = reader.line_num + 1  # the physical line where this record starts
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            parsed.skipped.append({"row": row_number, "email": None, "reason": f"row does not parse: {exc}"})
            continue
        if not "".join(row).strip():  # no cells, or only blank ones
            continue
        if len(parsed.rows) + len(parsed.skipped) >= MAX_ROWS:
            raise CsvProblem(f"the file has more than {MAX_ROWS} rows; split it")
        if len(row) <= email_col:
            parsed.skipped.append({"row": row_number, "email": None, "reason": "row has no email column"})
            continue
        attrs = {name: row[i].strip() for i, name in columns if i < len(row) and row[i].strip()}
        parsed.rows.append((row_number, email_cell(row[email_col]), attrs))
    return parsed
