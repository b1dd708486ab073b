"""beacon.shared.addresses.normalize: the one place that decides what an address is (SES has no SMTPUTF8)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beacon.shared import addresses
from beacon.shared.addresses import MAX_LENGTH, InvalidAddress, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jane@example.com", "jane@example.com"),
        ("Jane.Doe@Example.COM", "jane.doe@example.com"),
        ("  jane@example.com  ", "jane@example.com"),
        ("\tjane@example.com\n", "jane@example.com"),
        ("JANE+News@Sub.Example.Co.UK", "jane+news@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("user@bücher.de", "user@xn--bcher-kva.de"),
        ("User@BÜCHER.DE", "user@xn--bcher-kva.de"),
        ("user@straße.de", "user@xn--strae-oqa.de"),
        ("info@例え.jp", "info@xn--r8jz45g.jp"),
        ("user@xn--bcher-kva.de", "user@xn--bcher-kva.de"),
        ("user@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "user@example.com")  # fullwidth,
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_normalized_addresses_are_ascii_and_lower_case() -> None:
    for raw in ("Zoë@example.com".replace("ë", "e"), "A@Müller.Example", "x@ÉCOLE.fr"):
        out = normalize(raw)
        assert out.isascii()
        assert out == out.lower()


@pytest.mark.parametrize(
    "raw",
    ["jösé@example.com", "Ärger@example.de", "用户@例子.广告", "zoë@example.com", "x\u200b@example.com",
     "\uff41\uff42\uff43@example.com"],
)
def test_non_ascii_local_part_is_refused_with_a_reason_about_ascii(raw: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        normalize(raw)
    assert "ASCII" in str(info.value)


@pytest.mark.parametrize(
    "raw",
    ["a\r\nb@example.com", "a@example.com\r\nBcc: x@example.com", "a\n@example.com", "a\x00@example.com",
     "a@exa\rmple.com", "a\tb@example.com", "a\x07b@example.com", "a\x1bb@example.com"],
)
def test_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize(raw)


def test_too_long_is_refused() -> None:
    local = "a" * 64
    domain = ".".join(["b" * 60] * 4) + ".com"  # > 254 in total
    with pytest.raises(InvalidAddress, match=str(MAX_LENGTH)):
        normalize(f"{local}@{domain}")
    with pytest.raises(InvalidAddress):
        normalize("a@" + "b" * 64 + ".com")  # a label over 63


def test_an_idn_domain_that_grows_past_the_limit_in_punycode_is_refused() -> None:
    domain = ".".join(["ü" * 20] * 9) + ".de"
    assert len(f"a@{domain}") < MAX_LENGTH
    with pytest.raises(InvalidAddress):
        normalize(f"a@{domain}")


@pytest.mark.parametrize("raw", [None, 123, 1.5, b"a@example.com", ["a@example.com"], {"email": "a@example.com"}])
def test_not_a_string_is_refused(raw: object) -> None:
    with pytest.raises(InvalidAddress, match="string"):
        normalize(raw)


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "no-at-sign", "@example.com", "a@", "a@b", "a@@example.com", "a b@example.com",
     "a@example..com", ".a@example.com", "a.@example.com", "a@-example.com", "a@example.com.",
     "a@[127.0.0.1]", "<a@example.com>", "Jane <a@example.com>", '"a b"@example.com', "a@localhost"],
)
def test_invalid_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize(raw)


def test_invalid_address_is_a_value_error_with_a_message() -> None:
    with pytest.raises(ValueError, match=r"\S"):
        normalize("nope")


_LOCAL = st.text(alphabet=st.sampled_from("abcXYZ019.+-_'!#$%&*=?^`{|}~"), min_size=1, max_size=30)
_LABEL = st.text(alphabet=st.sampled_from("abcxyzABCÜüßéÉ例え019-"), min_size=1, max_size=20)
_ADDRESS = st.builds(
    lambda pad1, local, labels, tld, pad2: f"{pad1}{local}@{'.'.join(labels)}.{tld}{pad2}",
    st.sampled_from(["", " ", "\t", "  "]),
    _LOCAL,
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "DE", "org", "xn--p1ai", "рф", "Museum"]),
    st.sampled_from(["", " ", "\n"]),
)


@settings(max_examples=200, deadline=None, database=None)
@given(st.one_of(_ADDRESS, st.emails(), st.text(max_size=60)))
def test_normalize_is_idempotent_on_what_it_accepts(raw: str) -> None:
    try:
        once = normalize(raw)
    except InvalidAddress:
        return
    assert normalize(once) == once
    assert once.isascii()
    assert once == once.strip() == once.lower()
    assert len(once) <= MAX_LENGTH


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=80))
def test_normalize_only_ever_raises_invalid_address(raw: str) -> None:
    with contextlib.suppress(InvalidAddress):
        normalize(raw)



def _ascii_case(change: str) -> Callable[[str], str]:
    def apply(value: str) -> str:
        return "".join(getattr(c, change)() if c.isascii() else c for c in value)

    return apply


@settings(max_examples=200, deadline=None, database=None)
@given(st.one_of(_ADDRESS, st.emails()), st.sampled_from(["upper", "lower", "swapcase"]))
def test_normalize_folds_ascii_case(raw: str, change: str) -> None:
    """Any ASCII case of an address is the same address (or refused alike). Non-ASCII letters are
    left alone: IDNA maps `Ü` to `ü`, but `ß` and `SS` are different domains."""
    try:
        expected: str | None = normalize(raw)
    except InvalidAddress:
        expected = None
    try:
        got: str | None = normalize(_ascii_case(change)(raw))
    except InvalidAddress:
        got = None
    assert got == expected


_NON_ASCII = st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF, blacklist_categories=("Cs",))
_ASCII_LOCAL = st.text(alphabet=st.sampled_from("abcXYZ019.+-_"), max_size=10)


@settings(max_examples=300, deadline=None, database=None)
@given(_ASCII_LOCAL, _NON_ASCII, _ASCII_LOCAL, st.sampled_from(["example.com", "bücher.de", "例え.jp", "EXAMPLE.org"]))
def test_non_ascii_local_part_is_never_accepted(before: str, odd: str, after: str, domain: str) -> None:
    raw = f"{before}{odd}{after}@{domain}"
    local = raw.strip().rpartition("@")[0]
    if local.isascii():  # the odd character was surrounding whitespace, trimmed like any other
        return
    with pytest.raises(InvalidAddress):
        normalize(raw)


# ------------------------------------------------------------------ the plain-address fast path
FAST_PATH_CASES = [
    "ann@example.com", "Ann.Lee@Example.COM", "a+tag@sub.example.co.uk", "x_y-z@a-b.example.org",
    "ann@localhost", "ann@example.invalid", "ann@example.local", "ann@shop.test", "ann@example",
    "ann@example.123", "ann@-example.com", "ann@example-.com", "ann@exa--mple.com", "ann@ab--cd.com",
    "ann@example..com", "ann@.example.com", "ann@example.com.", "ann@xn--bcher-kva.com", "ann@XN--bcher-kva.com",
    "ann@xn--zz.com", ".ann@example.com", "ann.@example.com", "an..n@example.com", "postmaster@example.com",
    "a" * 64 + "@example.com", "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com",
    "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".com", "a" * 60 + "@" + ".".join(["b" * 61] * 3) + ".co",
    "ann@123.45.67.89", "ann@[1.2.3.4]", "1@2.com", "ann@example.c0m", "ann@example.comm-",
]


@pytest.mark.parametrize("raw", FAST_PATH_CASES)
def test_the_fast_path_gives_the_full_validators_verdict(raw: str) -> None:
    """An address the fast path takes normalises to what email-validator gives for the whole
    address; one it does not take is judged (and its reason given) by email-validator as before."""
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
        expected: str | None = (result.ascii_email or result.normalized).lower()
    except EmailNotValidError:
        expected = None
    fast = addresses._plain(raw)
    assert fast is None or fast == expected
    if expected is None:
        with pytest.raises(addresses.InvalidAddress):
            addresses.normalize(raw)
    elif len(raw) <= addresses.MAX_LENGTH and len(raw.rpartition("@")[0]) <= 64:
        assert addresses.normalize(raw) == expected


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="aZ09_+-.@x", min_size=1, max_size=40).map(lambda s: s.replace("x", "xn--")))
def test_the_fast_path_never_takes_what_the_validator_refuses(raw: str) -> None:
    from email_validator import EmailNotValidError, validate_email

    fast = addresses._plain(raw)
    if fast is None:
        return
    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AssertionError(f"the fast path took {raw!r}, which email-validator refuses: {exc}") from exc
    assert fast == (result.ascii_email or result.normalized).lower()
