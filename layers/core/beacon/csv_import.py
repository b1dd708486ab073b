"""CSV parsing for contact imports: survives the shapes real exports come in.

UTF-8 with or without BOM (Latin-1 fallback), `,` `;` or tab delimiters (sniffed from the
header), quoted fields with embedded delimiters, quotes and newlines, CRLF, and a header row
naming `email` in any case; every other column becomes an attribute.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from beacon.attributes import attribute_name

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


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse(data: bytes) -> ParsedCsv:
    text = decode(data)
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=False)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise CsvProblem("the file is empty") from exc
    except csv.Error as exc:
        raise CsvProblem(f"the header row does not parse: {exc}") from exc
    names = [h.strip().strip("\ufeff").lower() for h in header]
    email_col = next((names.index(h) for h in EMAIL_HEADERS if h in names), None)
    if email_col is None:
        raise CsvProblem("the header row has no 'email' column")
    columns = [(i, attribute_name(h)) for i, h in enumerate(header) if i != email_col and h.strip()]
    parsed = ParsedCsv()
    while True:
        row_number = reader.line_num + 1  # the physical line where this record starts
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            parsed.skipped.append({"row": row_number, "email": None, "reason": f"row does not parse: {exc}"})
            continue
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(parsed.rows) + len(parsed.skipped) >= MAX_ROWS:
            raise CsvProblem(f"the file has more than {MAX_ROWS} rows; split it")
        if len(row) <= email_col:
            parsed.skipped.append({"row": row_number, "email": None, "reason": "row has no email column"})
            continue
        attrs = {name: row[i].strip() for i, name in columns if i < len(row) and row[i].strip()}
        parsed.rows.append((row_number, row[email_col], attrs))
    return parsed
