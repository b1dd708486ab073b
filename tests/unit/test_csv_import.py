"""beacon.audience.csv_import: contact CSVs in the shapes real exports come in.

Row numbers are the 1-based physical line on which a record starts, the number a user sees
when they open the file in an editor (the header is line 1).
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.audience.attributes import attribute_name
from beacon.audience.csv_import import EMAIL_HEADERS, MAX_BYTES, MAX_ROWS, CsvProblem, ParsedCsv, email_cell, parse

DATA = Path(__file__).resolve().parents[1] / "data"



def emails(parsed: ParsedCsv) -> list[str]:
    return [email for _, email, _ in parsed.rows]


def rows_by_email(parsed: ParsedCsv) -> dict[str, tuple[int, dict[str, Any]]]:
    return {email: (row, attrs) for row, email, attrs in parsed.rows}


# ---------------------------------------------------------------------------- the corpus in tests/data


def test_excel_semicolon_utf8_with_bom() -> None:
    raw = (DATA / "excel_semicolon_bom.csv").read_bytes()
    assert raw.startswith(codecs.BOM_UTF8) and b";" in raw and b"\r\n" in raw
    parsed = parse(raw)
    assert emails(parsed) == [
        "jürgen.example@example.de", "ZOE@Example.COM", "francois@example.fr", "shiori@example.jp",
    ]
    assert [row for row, _, _ in parsed.rows] == [2, 3, 4, 6]
    assert parsed.skipped == []
    by = rows_by_email(parsed)
    assert by["jürgen.example@example.de"][1] == {
        "vorname": "Jürgen", "nachname": "Müller", "firma": "Müller & Söhne GmbH",
        "telefon": "+49 30 1234567", "geburtstag": "03.04.1980",
    }
    assert by["ZOE@Example.COM"][1] == {"vorname": "Zoë", "nachname": "Ørsted", "firma": "Ørsted; Partner"}
    assert by["francois@example.fr"][1]["firma"] == 'Café "Le Zinc"'
    assert by["shiori@example.jp"][1]["nachname"] == "山田"
    # the BOM never leaks into a header or a value
    assert all("\ufeff" not in key for _, _, attrs in parsed.rows for key in attrs)


def test_excel_semicolon_latin1_without_bom() -> None:
    raw = (DATA / "excel_semicolon_latin1.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    parsed = parse(raw)
    assert parsed.rows == [
        (2, "anna@example.de", {"vorname": "Anna", "nachname": "Weiß", "stadt": "Köln"}),
        (3, "bjorn@example.se", {"vorname": "Björn", "nachname": "Ångström", "stadt": "Malmö"}),
        (4, "chloe@example.fr", {"vorname": "Chloé", "nachname": "Dubois", "stadt": "Besançon"}),
    ]
    assert parsed.skipped == []


def test_mailchimp_audience_export() -> None:
    parsed = parse((DATA / "mailchimp_export.csv").read_bytes())
    assert emails(parsed) == ["alice@example.com", "bob.jones@example.net", "carol@example.co.uk"]
    assert [row for row, _, _ in parsed.rows] == [2, 3, 4]
    assert parsed.skipped == []
    alice = rows_by_email(parsed)["alice@example.com"][1]
    assert alice["first_name"] == "Alice"
    assert alice["last_name"] == "Smith"
    assert alice["member_rating"] == "4"
    assert alice["optin_time"] == "2023-01-05 10:00:00"
    assert alice["tags"] == '"Customer","VIP"'
    assert "email_address" not in alice and "email" not in alice
    bob = rows_by_email(parsed)["bob.jones@example.net"][1]
    assert bob["notes"] == "Met at the expo, booth 12"
    assert "address" not in bob  # empty cells are not attributes
    assert rows_by_email(parsed)["carol@example.co.uk"][1]["last_name"] == "O'Neil"


def test_quoted_newlines_fields() -> None:
    parsed = parse((DATA / "quoted_newlines.csv").read_bytes())
    assert emails(parsed) == [
        "one@example.com", "two@example.com", "three@example.com", "four@example.com", "five@example.com",
    ]
    by = rows_by_email(parsed)
    assert by["one@example.com"][1] == {"name": "One", "notes": "first line\r\nsecond line"}
    assert by["two@example.com"][1] == {"name": "Two, Jr.", "notes": 'He said "hi"'}
    assert by["three@example.com"][1] == {"name": "Three", "notes": "a\nb\nc\nd"}
    assert by["five@example.com"][1] == {"name": "Five\r\n\r\nFifth", "notes": "x,y"}
    assert len(parsed.skipped) == 1
    assert parsed.skipped[0]["email"] is None
    assert "email" in parsed.skipped[0]["reason"]


def test_quoted_newlines_row_numbers_are_where_each_record_starts() -> None:
    parsed = parse((DATA / "quoted_newlines.csv").read_bytes())
    assert [(row, email) for row, email, _ in parsed.rows] == [
        (2, "one@example.com"), (4, "two@example.com"), (6, "three@example.com"),
        (12, "four@example.com"), (14, "five@example.com"),
    ]
    assert [s["row"] for s in parsed.skipped] == [10]


def test_google_contacts_export() -> None:
    parsed = parse((DATA / "google_contacts.csv").read_bytes())
    # the contact without an address comes through with an empty email; the importer reports it
    assert emails(parsed) == ["ada@example.com", "grace@example.org", ""]
    assert [row for row, _, _ in parsed.rows][1:] == [5, 6]
    assert parsed.skipped == []
    ada = rows_by_email(parsed)["ada@example.com"][1]
    assert ada["name"] == "Ada Lovelace"
    assert ada["given_name"] == "Ada"
    assert ada["family_name"] == "Lovelace"
    assert ada["group_membership"] == "* myContacts ::: * starred"
    assert ada["e_mail_2_value"] == "ada@work.example.com"
    assert ada["address_1_formatted"] == "12 St James's Square\nLondon SW1Y 4JH\nGB"
    assert "e_mail_1_value" not in ada
    grace = rows_by_email(parsed)["grace@example.org"][1]
    assert grace["notes"] == 'Said "It\'s easier to ask forgiveness", among other things'


def test_google_contacts_header_is_real() -> None:
    header = (DATA / "google_contacts.csv").read_text(encoding="utf-8").split("\r\n", 1)[0].split(",")
    assert header[:4] == ["Name", "Given Name", "Additional Name", "Family Name"]
    assert "E-mail 1 - Value" in header and "Group Membership" in header


# ---------------------------------------------------------------------------- encodings and delimiters


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(delimiter: str) -> None:
    d = delimiter
    raw = f"email{d}first name{d}city\nann@example.com{d}Ann{d}Oslo\nbob@example.com{d}Bob{d}\n".encode()
    parsed = parse(raw)
    assert parsed.rows == [
        (2, "ann@example.com", {"first_name": "Ann", "city": "Oslo"}),
        (3, "bob@example.com", {"first_name": "Bob"}),
    ]


def test_quoted_delimiters_and_quotes_inside_fields() -> None:
    raw = b'email;company;motto\r\n"x@example.com";"Smith; Sons";"say ""cheese"", then ;"\r\n'
    parsed = parse(raw)
    assert parsed.rows == [(2, "x@example.com", {"company": "Smith; Sons", "motto": 'say "cheese", then ;'})]


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_endings(newline: str) -> None:
    raw = newline.join(["Email,Name", "a@example.com,A", "b@example.com,B", ""]).encode()
    parsed = parse(raw)
    assert emails(parsed) == ["a@example.com", "b@example.com"]
    assert all("\r" not in v for _, _, attrs in parsed.rows for v in attrs.values())


def test_utf8_bom() -> None:
    parsed = parse(codecs.BOM_UTF8 + "Email,Name\nz@example.com,Zoë\n".encode())
    assert parsed.rows == [(2, "z@example.com", {"name": "Zoë"})]


def test_latin1_fallback() -> None:
    parsed = parse("email,name\nj@example.com,Jürgen Weiß\n".encode("latin-1"))
    assert parsed.rows == [(2, "j@example.com", {"name": "Jürgen Weiß"})]


def test_windows_1252_fallback_keeps_curly_quotes_and_euro() -> None:
    name, note = "O\u2019Brien", "\u201c5 \u20ac\u201d \u2013 ok"  # O'Brien, "5 EUR" - ok, as Word types them
    parsed = parse(f"email,name,note\no@example.com,{name},{note}\n".encode("cp1252"))
    assert parsed.rows == [(2, "o@example.com", {"name": name, "note": note})]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_bom(encoding: str) -> None:
    text = "email\tname\nu@example.com\tÜlkü\n"
    raw = text.encode(encoding)
    if encoding != "utf-16":
        raw = (codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE) + raw
    parsed = parse(raw)
    assert parsed.rows == [(2, "u@example.com", {"name": "Ülkü"})]


# ---------------------------------------------------------------------------- headers


@pytest.mark.parametrize("header", ["email", "Email", "EMAIL", "E-mail", "e-mail", "E-MAIL", "Email Address",
                                    "E-Mail Address", "email_address", "Mail", " Email ", '"Email"'])
def test_email_header_in_any_case(header: str) -> None:
    parsed = parse(f"Name,{header},Plan\nAnn,ann@example.com,pro\n".encode())
    assert parsed.rows == [(2, "ann@example.com", {"name": "Ann", "plan": "pro"})]


def test_other_columns_become_attributes_with_normalised_names() -> None:
    headers = ["First Name", "last-name", "  Company  ", "Plan  Type", "ZIP"]
    raw = ("email," + ",".join(headers) + "\nx@example.com,Ann,Lee,Acme,gold,0150\n").encode()
    parsed = parse(raw)
    _, _, attrs = parsed.rows[0]
    assert list(attrs) == [attribute_name(h) for h in headers]
    assert attrs == {"first_name": "Ann", "last_name": "Lee", "company": "Acme", "plan_type": "gold", "zip": "0150"}


def test_values_are_trimmed_and_empty_values_dropped() -> None:
    parsed = parse(b"email,a,b,c\n x@example.com ,  one  ,,   \n")
    assert parsed.rows == [(2, " x@example.com ", {"a": "one"})]


def test_blank_header_columns_are_ignored() -> None:
    parsed = parse(b"email,,name,\nx@example.com,junk,Ann,more\n")
    assert parsed.rows == [(2, "x@example.com", {"name": "Ann"})]


def test_email_column_preference_follows_email_headers() -> None:
    assert EMAIL_HEADERS[0] == "email"
    parsed = parse(b"mail,email\nsecond@example.com,first@example.com\n")
    assert emails(parsed) == ["first@example.com"]


# ---------------------------------------------------------------------------- rows


def test_blank_lines_are_ignored_and_row_numbers_count_physical_lines() -> None:
    raw = b"email,name\n\na@example.com,A\n   \n,\n\nb@example.com,B\n\n\n"
    parsed = parse(raw)
    assert [(row, email) for row, email, _ in parsed.rows] == [(3, "a@example.com"), (7, "b@example.com")]
    assert parsed.skipped == []


def test_short_rows_are_skipped_with_their_row_number() -> None:
    raw = b"name,plan,email\nAnn,pro,ann@example.com\nBob\nCid,free\nDee,pro,dee@example.com\n"
    parsed = parse(raw)
    assert emails(parsed) == ["ann@example.com", "dee@example.com"]
    assert [(s["row"], s["email"]) for s in parsed.skipped] == [(3, None), (4, None)]
    assert all(s["reason"] for s in parsed.skipped)


def test_a_field_over_the_size_limit_skips_only_that_row() -> None:
    raw = b"email,note\r\na@example.com,ok\r\nb@example.com,\"" + b"x" * 70_000 + b"\"\r\nc@example.com,ok\r\n"
    parsed = parse(raw)
    assert emails(parsed) == ["a@example.com", "c@example.com"]
    assert [s["row"] for s in parsed.skipped] == [3]
    assert [row for row, _, _ in parsed.rows] == [2, 4]


def test_row_numbers_after_a_multi_line_record() -> None:
    raw = b'email,note\n"a@example.com","one\ntwo\nthree"\nb@example.com,x\n'
    parsed = parse(raw)
    assert [(row, email) for row, email, _ in parsed.rows] == [(2, "a@example.com"), (5, "b@example.com")]


def test_skipped_multi_line_record_reports_its_first_line() -> None:
    raw = b'name,email\n"Ann\nSmith"\nb@example.com,x\n'
    parsed = parse(raw)
    assert [s["row"] for s in parsed.skipped] == [2]


# ---------------------------------------------------------------------------- whole-file problems


@pytest.mark.parametrize("raw", [b"", codecs.BOM_UTF8, b"\n", b"\r\n\r\n"], ids=["empty", "bom", "lf", "crlf"])
def test_empty_file_is_a_csv_problem(raw: bytes) -> None:
    with pytest.raises(CsvProblem):
        parse(raw)


@pytest.mark.parametrize(
    "raw",
    [b"name,phone\nAnn,123\n", b"first;last\nA;B\n", b"emails,e_mail\nx@example.com,y\n", b"just one line"],
)
def test_no_email_column_is_a_csv_problem(raw: bytes) -> None:
    with pytest.raises(CsvProblem, match="email"):
        parse(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00email,name\n",  # an .xlsx (zip)
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\x00\x00",  # an old .xls (OLE2)
        b"email,name\nx@example.com,\x00\x00\x00\n",
        bytes(range(256)) * 4,
    ],
    ids=["png", "xlsx", "xls", "nul-in-row", "all-bytes"],
)
def test_binary_is_a_csv_problem(raw: bytes) -> None:
    with pytest.raises(CsvProblem):
        parse(raw)


def test_file_over_the_size_limit_is_a_csv_problem() -> None:
    with pytest.raises(CsvProblem, match="MB"):
        parse(b"email\n" + b"a" * MAX_BYTES)


def test_csv_problem_is_a_value_error() -> None:
    assert issubclass(CsvProblem, ValueError)


# ---------------------------------------------------------------------------- volume


def test_fifty_thousand_rows_parse() -> None:
    lines = ["Email,First Name,Plan"] + [f"user{i}@example.com,Name {i},{'pro' if i % 3 else 'free'}"
                                         for i in range(50_000)]
    parsed = parse("\r\n".join(lines).encode())
    assert len(parsed.rows) == 50_000
    assert parsed.skipped == []
    assert parsed.rows[0] == (2, "user0@example.com", {"first_name": "Name 0", "plan": "free"})
    assert parsed.rows[-1] == (50_001, "user49999@example.com", {"first_name": "Name 49999", "plan": "pro"})


def test_more_rows_than_the_limit_is_a_csv_problem() -> None:
    raw = b"email\n" + b"a@example.com\n" * (MAX_ROWS + 1)
    with pytest.raises(CsvProblem, match="rows"):
        parse(raw)


# ---------------------------------------------------------------------------- more real-world shapes


def test_outlook_export() -> None:
    raw = (DATA / "outlook_export.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # Outlook writes the ANSI code page (cp1252)
    parsed = parse(raw)
    assert emails(parsed) == ["renee.lefevre@example.fr", "John.OConnor@Example.com", "",
                              "/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=ex"]
    assert [row for row, _, _ in parsed.rows] == [2, 3, 5, 6]  # John's street spans two lines
    renee = rows_by_email(parsed)["renee.lefevre@example.fr"][1]
    assert renee["business_country_region"] == "France"  # "Business Country/Region"
    assert renee["notes"] == "Met at Salon \u201cVivatech\u201d \u2013 2023"
    assert renee["e_mail_display_name"] == "Renée Lefèvre (renee.lefevre@example.fr)"
    john = rows_by_email(parsed)["John.OConnor@Example.com"][1]
    assert john["business_street"] == "1 Main St\r\nSuite 100"
    assert john["e_mail_2_address"] == "john@home.example.com"


def test_excel_unicode_text_is_utf16_tab_separated() -> None:
    raw = (DATA / "excel_unicode_text.txt").read_bytes()
    assert raw.startswith(codecs.BOM_UTF16_LE)
    parsed = parse(raw)
    assert parsed.rows == [
        (2, "mei@example.cn", {"name": "李梅", "city": "北京"}),
        (3, "olga@example.ru", {"name": "Ольга", "city": "Москва"}),
        (4, "tab\tin@example.com", {"name": "quoted", "city": "x"}),  # the importer refuses this address
    ]


def test_messy_hand_made_sheet() -> None:
    parsed = parse((DATA / "messy_sheet.csv").read_bytes())
    assert parsed.rows[:4] == [
        (2, "ann@example.com", {"name": "Ann Lee", "plan": "pro"}),  # "Ann Lee <ann@example.com>"
        (3, "Bob@Example.com", {"name": "Bob", "plan": "free"}),  # "mailto:Bob@Example.com?subject=Hello"
        (4, "ANN@EXAMPLE.COM", {"name": "Ann again", "plan": "gold"}),
        (5, "cy@example.org", {"name": "Cy", "plan": "pro"}),  # '"Cy, the Boss" <cy@example.org>'
    ]
    assert emails(parsed)[4:] == ["not an address", "ünïcode@example.com", "someone@localhost", "",
                                  "dee@example.com", "  eve@EXAMPLE.net  "]
    assert parsed.rows[-1] == (12, "  eve@EXAMPLE.net  ", {"name": "Eve", "plan": "pro"})  # extra cells dropped


def test_pasted_list_without_a_header_row() -> None:
    parsed = parse((DATA / "pasted_addresses.txt").read_bytes())
    assert parsed.rows == [(1, "first@example.com", {}), (2, "second@example.com", {}),
                           (4, "third@example.com", {}), (5, "not-an-address", {})]


def test_headerless_file_uses_the_column_holding_addresses() -> None:
    parsed = parse(b"Ann;ann@example.com;pro\r\nBob;bob@example.com;free\r\n")
    assert parsed.rows == [(1, "ann@example.com", {}), (2, "bob@example.com", {})]


@pytest.mark.parametrize(("cell", "expected"), [
    ("Ann Lee <ann@example.com>", "ann@example.com"),
    ('"Lee, Ann" <ann@example.com>', "ann@example.com"),
    ("<ann@example.com>", "ann@example.com"),
    ("mailto:ann@example.com", "ann@example.com"),
    ("MAILTO:ann@example.com?subject=Hi&body=x", "ann@example.com"),
    ("Ann <mailto:ann@example.com>", "ann@example.com"),
    (" ann@example.com ", " ann@example.com "),  # untouched: beacon.shared.addresses trims
    ("ann@example.com <bob@example.com>", "bob@example.com"),
    ("Ann <ann@example.com> <x>", "Ann <ann@example.com> <x>"),  # not one address: left for the validator
    ("a <b", "a <b"),
    ("", ""),
])
def test_email_cell_forms(cell: str, expected: str) -> None:
    assert email_cell(cell) == expected


@pytest.mark.parametrize(("header", "name"), [
    ("Business Country/Region", "business_country_region"),
    ("Straße", "strasse"),
    ("Prénom", "prenom"),
    ("名前", "column_2"),
    ("2nd Phone", "_2nd_phone"),
    ("First Name", "first_name"),
    ("E-mail 2 - Value", "e_mail_2_value"),
    ("x" * 100, "x" * 64),
])
def test_header_cells_become_template_names(header: str, name: str) -> None:
    parsed = parse(f"email,{header}\nann@example.com,v\n".encode())
    assert parsed.rows == [(2, "ann@example.com", {name: "v"})]


@pytest.mark.parametrize("raw", [
    b'"Lee, Ann";"Email"\r\n"Lee, Ann";ann@example.com\r\n',  # more commas than semicolons, inside quotes
    b'"a;b;c",email\nx,ann@example.com\n',  # more semicolons, inside quotes
])
def test_delimiter_sniffing_ignores_quoted_text(raw: bytes) -> None:
    assert emails(parse(raw)) == ["ann@example.com"]


def test_header_with_bom_spaces_and_trailing_empty_columns() -> None:
    parsed = parse(codecs.BOM_UTF8 + b' "Email " ; Name ;;;\r\nann@example.com;Ann;;;\r\n')
    assert parsed.rows == [(2, "ann@example.com", {"name": "Ann"})]


# ---------------------------------------------------------------------------- property: any table round-trips

_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda n: n not in EMAIL_HEADERS)
_ADDR = st.builds(lambda a, b: f"{a}@{b}.example.com",
                  st.text(alphabet=st.sampled_from("abcxyz019._+-"), min_size=1, max_size=12),
                  st.text(alphabet=st.sampled_from("abcxyz019-"), min_size=1, max_size=8))
# what each encoding can carry; for the 8-bit ones only letters that cannot be mistaken for UTF-8
_ALPHABETS = {
    "utf-8": st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    "utf-8-sig": st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    "utf-16": st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    "cp1252": st.one_of(st.characters(min_codepoint=1, max_codepoint=0x7F), st.characters(min_codepoint=0xC0,
                                                                                           max_codepoint=0xFF)),
    "latin-1": st.one_of(st.characters(min_codepoint=1, max_codepoint=0x7F), st.characters(min_codepoint=0xC0,
                                                                                            max_codepoint=0xFF)),
}


@st.composite
def _tables(draw: st.DrawFn) -> tuple[str, str, str, int, list[str], list[list[str]]]:
    encoding = draw(st.sampled_from(sorted(_ALPHABETS)))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    # csv.writer quotes a field holding a line-terminator character; with "\n" it leaves a bare "\r"
    # unquoted, which every reader takes for a line break, so "\n" files are written fully quoted
    quoting = csv.QUOTE_ALL if newline == "\n" else draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    names = draw(st.lists(_NAME, unique=True, max_size=4))
    cell = st.text(alphabet=_ALPHABETS[encoding], max_size=20)
    rows = draw(st.lists(st.tuples(_ADDR, st.lists(cell, min_size=len(names), max_size=len(names))),
                         min_size=1, max_size=8))
    return encoding, delimiter, newline, quoting, names, [[email, *cells] for email, cells in rows]


@settings(max_examples=300, deadline=None, database=None)
@given(_tables())
def test_any_table_written_by_csv_writer_round_trips(
        table: tuple[str, str, str, int, list[str], list[list[str]]]) -> None:
    encoding, delimiter, newline, quoting, names, rows = table
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=quoting)
    writer.writerow(["Email", *names])
    starts = []
    for row in rows:
        starts.append(len(io.StringIO(out.getvalue(), newline="").readlines()) + 1)
        writer.writerow(row)
    parsed = parse(out.getvalue().encode(encoding))
    assert parsed.skipped == []
    expected = [(start, row[0], {n: v.strip() for n, v in zip(names, row[1:], strict=True) if v.strip()})
                for start, row in zip(starts, rows, strict=True)]
    assert parsed.rows == expected
