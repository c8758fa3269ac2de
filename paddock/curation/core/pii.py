"""Per-document detectors of personal information (PII), for the per-site PII filter.

The Llama 2 paper (section 2.1) removes "data from certain sites known to contain a high
volume of personal information about private individuals". Deciding that needs a cheap,
explainable measure of how much personal information each page of a site carries: these
detectors count e-mail addresses, phone numbers, IP addresses, US social security numbers
and payment card numbers, and :mod:`.sites` aggregates the counts per site.

Design choices, and why:

- Regular expressions plus checksums and numbering-plan rules, no models: this runs on
  every document of multi-GB crawls, and a site-level decision only needs good rates, not
  perfect spans. Every pattern is compiled once at import, each detector scans the text
  once, and the digit detectors are skipped on the ~90% of pages with no 7-digit run.
- Precision over recall where they conflict. A false positive on an ordinary page (a date,
  a version string, a product code) adds noise to every site; a missed detection on a
  people-search page is made up for by the dozens of others on that page.
- Phone numbers come in two strengths. Shapes that are phone numbers on their own (a ``+``
  country code, a parenthesised area code, NANP ``555-123-4567``, a trunk-prefix ``0``
  national number) always count. Bare digit groups (``781 1704``, ``78 651 450``,
  ``9498777106``) look exactly like thousand-separated numbers or identifiers, so they
  count only with phone context. This is the context enhancement Presidio uses too, made
  to hold on layouts that are not sentences (issue 19): a phone word before them on their
  line ("call me on", "Fax:", "电话" with a full-width colon, "Telefon/") unless a later
  address or identifier word ("is at", "Order no.", "ISBN") takes over; a label after
  them ("... office", "-Office"); a label line above them, as HTML definition lists and
  table cells come out of text extraction ("Phone\n467 3395"), also over a list of
  numbers under one label; or a phone label heading their table column. Labels and verbs
  are in the dozen languages that make up most of Common Crawl. ZIP codes with house
  numbers and numbers followed by a street name are rejected.
- Chinese, Japanese and Korean put no space between a label and its value, so their
  letters are boundaries, not glue, for every detector (``_GLUE_CHARS``).
- E-mail addresses obfuscated with bracketed words ("jane [at] example [dot] com",
  "jane(at)example.org") count: they are a person's address all the same. Bare words
  ("jane at example dot com") do not: that is prose more often than an address.
- Overlapping detections are resolved by a fixed priority (see :data:`PRIORITY`), then
  by length, so one piece of text is counted once.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from paddock.curation.core.words import word_count  # noqa: F401 - the rates' unit, re-exported


class PiiType(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    IP_ADDRESS = "ip_address"
    US_SSN = "us_ssn"
    CREDIT_CARD = "credit_card"


@dataclass(frozen=True, slots=True)
class PiiSpan:
    type: PiiType
    start: int
    end: int  # exclusive
    value: str


# When two detections overlap, the one earlier in this tuple wins. The most specific,
# self-validating shapes come first: an e-mail's digits are not a phone number; a
# Luhn-valid card number or an SSN with valid area/group/serial is not a phone number;
# an IP address is not a phone number written with dots.
PRIORITY: tuple[PiiType, ...] = (
    PiiType.EMAIL,
    PiiType.CREDIT_CARD,
    PiiType.US_SSN,
    PiiType.IP_ADDRESS,
    PiiType.PHONE,
)
_RANK = {pii_type: rank for rank, pii_type in enumerate(PRIORITY)}

# A value glued to these is part of a longer token: digits and the letters of scripts
# written with spaces between words (Latin, Greek, Cyrillic). Not CJK, kana, Hangul or
# Thai: Chinese and Japanese put no space between a label and its value
# ("电话13917985004", "邮箱li@example.com"), so such a letter is a boundary, as a space is
# in English. (``\w`` would count them as glue and miss every such value.)
_GLUE_CHARS = r"0-9A-Za-z_\u00C0-\u024F\u0370-\u03FF\u0400-\u04FF"

# ---------------------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------------------

_EMAIL = re.compile(
    rf"(?<![{_GLUE_CHARS}.%+-])"
    r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63}[A-Za-z0-9_%+-])?"  # local part, no edge dot
    r"@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"  # domain labels
    r"[A-Za-z]{2,24}"  # top-level domain: letters only, so never "user@10.0.0.1"
    rf"(?![{_GLUE_CHARS}-])"
)
# ``logo@2x.png`` and friends: responsive-image and asset names, not addresses. None of
# these file extensions is a top-level domain.
_FILE_EXTENSIONS = frozenset(
    "png jpg jpeg gif svg webp bmp ico tif tiff avif heic css js mjs ts json xml pdf txt "
    "csv webm woff ttf eot otf".split()
)


# Addresses written to dodge harvesters, "jane [at] example [dot] com", "jane(at)example.org",
# "jane@example[dot]com": still a person's address, so they count. Only the bracketed
# words, never a bare "at"/"dot" ("look at example dot com" is prose far more often).
_OBFUSCATED_AT = r"(?:[ ]?[\[({<]at[\])}>][ ]?|@)"
_OBFUSCATED_DOT = r"(?:[ ]?[\[({<]dot[\])}>][ ]?|\.)"
_EMAIL_OBFUSCATED = re.compile(
    rf"(?<![{_GLUE_CHARS}.%+-])"
    r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63}[A-Za-z0-9_%+-])?"
    rf"{_OBFUSCATED_AT}"
    rf"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?{_OBFUSCATED_DOT})+"
    r"[A-Za-z]{2,24}"
    rf"(?![{_GLUE_CHARS}-])",
    re.IGNORECASE,
)
_OBFUSCATION_MARK = re.compile(r"[\[({<](?:at|dot)[\])}>]", re.IGNORECASE)
# The common marks, as patterns that start with one literal character: the regex engine
# then skips to that character as fast as a substring search. A scan for the general
# mark, which starts with a character class, would cost ~10% of count_pii on web text.
_PAREN_AT = re.compile(r"\((?:at|AT)\)")
_SQUARE_MARK = re.compile(r"\[(?:at|AT|dot|DOT)\]")


def _may_hold_obfuscated_email(text: str, has_at_sign: bool) -> bool:
    """Whether the obfuscated e-mail pattern needs to run: "(at)" or "[at]"/"[dot]" in
    lower or upper case anywhere; any mark on the few pages with a "@"
    ("jane@example(dot)com"), "{" or "<". ("(At)" on a page with none of these is missed.)"""
    if _PAREN_AT.search(text) is not None:
        return True
    if "]" in text and _SQUARE_MARK.search(text) is not None:
        return True
    return (has_at_sign or "}" in text or ">" in text) and _OBFUSCATION_MARK.search(
        text
    ) is not None


def _find_emails(text: str) -> Iterator[tuple[int, int]]:
    has_at_sign = "@" in text
    if has_at_sign:
        for match in _EMAIL.finditer(text):
            top_level_domain = match.group().rpartition(".")[2].lower()
            if top_level_domain not in _FILE_EXTENSIONS:
                yield match.span()
    if _may_hold_obfuscated_email(text, has_at_sign):
        for match in _EMAIL_OBFUSCATED.finditer(text):
            if _OBFUSCATION_MARK.search(match.group()) is not None:
                yield match.span()


# ---------------------------------------------------------------------------------------
# How the patterns start
# ---------------------------------------------------------------------------------------
#
# Every digit pattern begins by consuming one character and then checks, in a lookbehind
# over that character, what came before it: "\d(?<![\w.]\d)" rather than "(?<![\w.])\d".
# Same matches, but a pattern whose first element is a character (not an assertion) lets
# the regex engine skip straight to candidate characters: about 3x the throughput on web
# text, where 1 character in 100 is a digit.

# ---------------------------------------------------------------------------------------
# Payment cards
# ---------------------------------------------------------------------------------------

# 12 to 19 digits, optionally in groups separated by single spaces or dashes. Not glued to
# other digits, letters (IBANs, hashes) or a "+" (international phone numbers), and not
# part of a longer run of digit groups (a 22-digit parcel tracking number).
_CARD = re.compile(
    rf"\d(?<![{_GLUE_CHARS}+.-]\d)(?<!\d[ ]\d)(?:[ -]?\d){{11,18}}(?![{_GLUE_CHARS}]|[ .-]\d)"
)
_CARD_SEPARATOR = re.compile(r"[ -]")
# Maestro is the one scheme with 12-digit numbers (ISO/IEC 7812 allows 8-19; schemes in
# use issue 12-19). Twelve digits are common in other identifiers, so a 12-digit number
# counts only with a Maestro issuer prefix.
_MAESTRO_PREFIXES = ("50", "56", "57", "58", "6", "0604")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number carries."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _plausible_card_digits(digits: str) -> bool:
    """Issuer-prefix and length rules, which reject most Luhn-valid non-card numbers.

    The first digit is the ISO/IEC 7812 major industry identifier: 2-6 are the banking
    and payment networks (Mastercard 2/5, Amex/Diners/JCB 3, Visa 4, Discover/UnionPay/
    Maestro 6); 1 is the 15-digit airline (UATP) and legacy JCB (1800) range. Numbers
    starting 7-9 (petroleum, telecoms, national: ISBN-13 and most barcodes) are not cards,
    and leaving out 13-digit 1... numbers drops millisecond timestamps.
    """
    if len(set(digits)) == 1:  # 0000 0000 0000 0000 passes Luhn
        return False
    length, first = len(digits), digits[0]
    if length == 12:
        return digits.startswith(_MAESTRO_PREFIXES)
    if first == "1":
        return length == 15
    return "2" <= first <= "6" or digits.startswith("0604")


def _plausible_card_grouping(value: str) -> bool:
    """Grouped numbers must use one separator and a grouping that cards are printed in.

    Groups of four with a shorter last group (4-4-4-4, 4-4-4-4-3, 4-4-4-1), or Amex and
    Diners' 4-6-5 and 4-6-4; this keeps phone numbers and tables of numbers out.
    """
    separators = set(_CARD_SEPARATOR.findall(value))
    if not separators:
        return True
    if len(separators) > 1:
        return False
    lengths = [len(group) for group in value.split(separators.pop())]
    if lengths in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(length == 4 for length in lengths[:-1]) and 1 <= lengths[-1] <= 4


def _find_cards(text: str) -> Iterator[tuple[int, int]]:
    for match in _CARD.finditer(text):
        value = match.group()
        digits = _CARD_SEPARATOR.sub("", value)
        if (
            _plausible_card_grouping(value)
            and _plausible_card_digits(digits)
            and luhn_valid(digits)
        ):
            yield match.span()


# ---------------------------------------------------------------------------------------
# US social security numbers
# ---------------------------------------------------------------------------------------

# AAA-GG-SSSS or AAA GG SSSS with the SSA's validity rules, checked by the lookbehinds
# after each part: the area is never 000, 666 or 900-999, the group never 00 and the
# serial never 0000.
_SSN = re.compile(
    rf"\d(?<![{_GLUE_CHARS}.+-]\d)\d\d(?<!000|666|9\d\d)"
    r"(?P<sep>[- ])\d\d(?<!00)"
    r"(?P=sep)\d{4}(?<!0000)"
    rf"(?![{_GLUE_CHARS}-]|\.\d)"
)


def _find_ssns(text: str) -> Iterator[tuple[int, int]]:
    for match in _SSN.finditer(text):
        yield match.span()


# ---------------------------------------------------------------------------------------
# IP addresses
# ---------------------------------------------------------------------------------------

# Four dotted numbers, not part of a longer dotted number (1.2.3.4.5 is a version string);
# each octet is then checked to be 0-255 without a leading zero (so 01.02.03.04 is not).
_IPV4 = re.compile(
    rf"\d(?<![{_GLUE_CHARS}.]\d)\d{{0,2}}(?:\.\d{{1,3}}){{3}}(?![{_GLUE_CHARS}]|\.\d)"
)
# Candidates only: hex groups with at least two colons, optionally ending in an IPv4
# address; :mod:`ipaddress` decides. Times (12:30:45) and MAC addresses fail validation.
_IPV6_CANDIDATE = re.compile(
    rf"(?<![{_GLUE_CHARS}.])"
    r"(?<![0-9A-Fa-f:]:)"  # a ":" glued to a label ("IP:2001:db8::1") is not a group's
    r"(?!:(?!:))"  # and a leading ":" is only the first of "::"
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4})"
    r"(?:%[0-9A-Za-z]+)?"  # zone index, fe80::1%eth0
    rf"(?![{_GLUE_CHARS}:]|\.\d)"
)
_HEX_GROUP = re.compile(r"[0-9A-Fa-f]{1,4}")


def _valid_octets(value: str) -> bool:
    return all(
        int(octet) <= 255 and (octet == "0" or not octet.startswith("0"))
        for octet in value.split(".")
    )


def _find_ipv4(text: str) -> Iterator[tuple[int, int]]:
    for match in _IPV4.finditer(text):
        if _valid_octets(match.group()):
            yield match.span()


def _find_ipv6(text: str) -> Iterator[tuple[int, int]]:
    if "::" not in text and text.count(":") < 7:  # a full address has 7 colons
        return
    for match in _IPV6_CANDIDATE.finditer(text):
        value = match.group()
        # "::", "a::b" and the like are C++ and Rust paths far more often than addresses.
        if len(_HEX_GROUP.findall(value.partition("%")[0])) < 3:
            continue
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        yield match.span()


def _find_ips(text: str) -> Iterator[tuple[int, int]]:
    yield from _find_ipv4(text)
    yield from _find_ipv6(text)


# ---------------------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------------------

_LETTER = r"[^\W\d_]"
_EXTENSION = r"(?:[ ]?(?:x|ext\.?|extension)[ ]?\d{1,6})?"
# After the number: no glued token, except a "-" before a letter, a label glued to the
# number ("085 175 7641-Office"), which :func:`_find_phones` then requires to be a phone
# label.
_PHONE_END = _EXTENSION + rf"(?![{_GLUE_CHARS}]|-(?!{_LETTER})|[./]\d)"


def _phone_pattern(first: str, rest: str) -> re.Pattern[str]:
    """``first`` (one character), not glued to a previous token, then ``rest``.

    A ".", "/" or "-" right before the number is a joiner (a version, a path, a code)
    unless a letter precedes it: "Tel.4671234", "Telefon/030 1234567" are labels glued
    to the number, which :func:`_find_phones` then requires to be phone labels.
    """
    return re.compile(
        f"{first}(?<![{_GLUE_CHARS}+]{first})(?<![\\W\\d_][./-]{first}){rest}{_PHONE_END}"
    )


# Shapes that are phone numbers without any context.
_PHONE_STRONG = (
    # International: +CC, an optional "(0)" trunk digit or (area code), digit groups.
    _phone_pattern(
        r"\+", r"[1-9]\d{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\(\d{1,4}\))?[ .-]?\d++(?:[ .-]\d++){0,6}"
    ),
    # A parenthesised area code: (555) 123-4567, (64) 3591-3246, (020) 7946 0958,
    # (495) 123-45-67.
    _phone_pattern(r"\(", r"(?:0\d{1,4}|[1-9]\d{1,2})\)[ ]?\d{2,5}(?:[ .-]?\d{2,4}){1,3}"),
    # NANP, one separator throughout: 555-123-4567, 555.123.4567, 1-555-123-4567,
    # 001 555 123 4567. The area code starts 2-9 (the numbering plan's rule).
    _phone_pattern(
        r"\d",
        r"(?:(?<=[2-9])|(?:(?<=1)|(?<=0)01)[ .-]?[2-9])"  # the area code, or a 1/001 prefix
        r"\d\d(?P<nanp>[ .-])\d{3}(?P=nanp)\d{4}",
    ),
    # A national number with the trunk prefix 0 and one separator: 0494 92 82 32,
    # 03.93.92.16.85, 0961-7596216, or a slash after the area code: 030/1234567
    # (9+ digits, checked after).
    _phone_pattern(
        r"0",
        r"[1-9]\d{0,4}(?:"
        r"(?P<trunk>[ .-])\d{2,8}(?:(?P=trunk)\d{2,8}){0,4}"
        r"|[ ]?/[ ]?\d{3,8}(?:[ -]\d{2,8}){0,3})",
    ),
)
_TRUNK_MIN_DIGITS = 9  # shorter 0-led groups are dates (05.12.2019) and codes

# Bare digit groups (2-5 digits, then groups of 2-8 with one separator) or 10-11 digits
# in a row: phone numbers only with a phone word nearby (see :func:`_has_phone_context`).
_PHONE_WEAK = _phone_pattern(
    r"\d", r"(?:\d{1,4}+(?P<sep>[ .-])\d{2,8}+(?:(?P=sep)\d{2,8}+){0,4}|\d{9,10})"
)

# Words that put a number in a phone context: the labels of contact blocks (also valid
# after the number: "781 1704 office") and the verbs of telephoning, in the languages
# that make up most of Common Crawl. Words of scripts without spaces (Chinese, Japanese,
# Korean compounds such as 전화번호) match without word boundaries.
_PHONE_LABELS = (
    r"phone|phones|telephone|tel|tele|mobile|mob|cell|cellphone|fax|office|home|work|"
    r"desk|direct|landline|hotline|whatsapp|sms|"
    r"telefon|telefonnummer|rufnummer|handy|mobil|mobiltelefon|festnetz|telefax|"  # de, pl
    r"téléphone|tél|portable|"  # fr
    r"teléfono|telefono|móvil|movil|celular|cel|"  # es, it
    r"telefone|telemóvel|telemovel|cellulare|"  # pt, it
    r"telefoon|mobiel|komórka|komorka|tel\. kom|"  # nl, pl
    r"телефон|тел|моб|мобильный|факс"  # ru
)
_PHONE_LABELS_UNSPACED = (
    r"联系电话|电话|電話|手机|手機|座机|传真|傳真|携帯|ケータイ|ファックス|\uFF34\uFF25\uFF2C|\uFF26\uFF21\uFF38|"
    r"전화|휴대폰|핸드폰|연락처|팩스"
)
_PHONE_VERBS = (
    r"call|calls|called|calling|ring|dial|dialled|dialed|text|texts|texting|message|"
    r"messages|messaging|contact|reach|answer|answers|answering|answered|"
    r"anrufen|rufen|appelez|appeler|llame|llamar|llámenos|ligue|ligar|chiama|chiamare|"
    r"bellen|zadzwoń|звоните|позвоните|звонить"
)
_PHONE_VERBS_UNSPACED = r"拨打|致电|来电|打电话|お電話|전화하"
# Word boundaries for cue words that, unlike ``\b``, take "_" as a boundary: labels are
# also keys and field names ("phone_number", "order_id" in JSON and forms).
_WB_START, _WB_END = r"(?<![^\W_])", r"(?![^\W_])"
_PHONE_CUE = (
    rf"{_WB_START}(?:{_PHONE_LABELS}|{_PHONE_VERBS}){_WB_END}"
    rf"|{_PHONE_LABELS_UNSPACED}|{_PHONE_VERBS_UNSPACED}"
)
# Words that say the digits after them are something else: an address, an order or an
# identifier. The last cue before a number decides, so in "Tel. 555 0134 · Order no.
# 4521 8890" only the first is a phone number.
_NOT_PHONE_CUE = (
    rf"{_WB_START}(?:address|addr|located at|is at|are at|suite|ste|apt|zip|postcode|post code|"
    r"adresse|anschrift|plz|adresa|dirección|direccion|endereço|endereco|cep|indirizzo|"
    r"адрес|adres|"
    r"order|invoice|isbn|issn|sku|ean|gtin|upc|item|model|tracking|vat|ust-idnr|iban|"
    r"ref|serial|version|ticket|"
    r"bestellnummer|bestellung|rechnung|artikel|art\.-nr|commande|facture|pedido|factura|"
    rf"ordine|fattura|zamówienie|bestelling|factuur|заказ|счёт|счет|инн){_WB_END}|"
    r"地址|住所|주소|订单|訂單|注文|주문|发票|編號|编号"
)
_CONTEXT_BEFORE = re.compile(
    rf"(?P<phone>{_PHONE_CUE})|(?P<other>{_NOT_PHONE_CUE})", re.IGNORECASE
)
_CONTEXT_AFTER = re.compile(
    rf"\W{{0,3}}(?:{_WB_START}(?:{_PHONE_LABELS}){_WB_END}|{_PHONE_LABELS_UNSPACED})",
    re.IGNORECASE,
)
# A label glued to the number by ".", "/" or "-": the label ends right before it.
_GLUED_LABEL = re.compile(rf"(?:\b(?:{_PHONE_LABELS})|{_PHONE_LABELS_UNSPACED})$", re.I)
# A line that is only a label, as HTML extraction lays out definition lists and table
# cells ("Phone\n467 3395", "Tel.:", "| Phone |"): its value is on the next line.
_LABEL_LINE = re.compile(
    rf"[\s|*•·:-]*(?:[^\W\d_]+[ ]?){{0,2}}(?:\b(?:{_PHONE_LABELS})\b|{_PHONE_LABELS_UNSPACED})"
    r"(?:[ ]?(?:numbers?|nos?\.?|nr\.?|#|番号|号码|號碼|번호))?[\s.:\uFF1A|*-]*$",
    re.IGNORECASE,
)
# A table cell that is only a label, in the header row of a column of values.
_LABEL_CELL = re.compile(
    rf"\s*(?:[^\W\d_]+[ ]?){{0,2}}(?:\b(?:{_PHONE_LABELS})\b|{_PHONE_LABELS_UNSPACED})"
    r"(?:[ ]?(?:numbers?|nos?\.?|nr\.?|#|番号|号码|號碼|번호))?[\s.:*]*",
    re.IGNORECASE,
)
_RULE_ROW = re.compile(r"[\s|:+=-]*")  # |---|:---:| between a header and its rows
_LINE_PREFIX = re.compile(r"[\s|*•·:\uFF1A-]*")  # what may come before a value on its line
# A street name after the number: "1200 94107 Market St", "4520 1200 5th Avenue".
_STREET_AFTER = re.compile(
    r"(?:[ ,]+(?:[A-Z0-9][\w'.-]*|de|la|of)){0,3}?[ ,]+"
    r"(?:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Ln|Lane|Dr|Drive|Way|Ct|Court|Pl|"
    r"Place|Pkwy|Parkway|Hwy|Highway|Sq|Square|Ter|Terrace|Cir|Circle|rue|avenue)\b"
)
_CONTEXT_BEFORE_CHARS = 40
_CONTEXT_AFTER_CHARS = 12
_LABEL_LINE_CHARS = 40
# A line that holds one number and at most a one-word note: an item of a list of numbers.
_VALUE_LINE = re.compile(r"[\s|*•·-]*[+(]?\d[\d ()./-]{5,}\d\)?(?:[ ]?[-(]?[ ]?[^\W\d_]+\)?)?")
_LIST_LINES_BACK = 4

# Digit groups that are dates or runs of years, whatever the context says.
_DATE_LIKE = re.compile(
    r"(?:19|20)\d\d(?:[ .-](?:19|20)\d\d)+"  # 1990-2000, 2021 2022 2023
    r"|(?:19|20)\d\d[.-]\d\d[.-]\d\d"  # 2018-01-14
    r"|\d\d[.-]\d\d[.-](?:19|20)\d\d"  # 14.01.2018
)
# A 5-digit ZIP or postcode and a house number ("94107 1200"): no numbering plan
# splits a phone number 5 + 1-4.
_ZIP_AND_HOUSE = re.compile(r"\d{5}[ ]\d{1,4}")
_DIGIT = re.compile(r"\d")
_EXTENSION_TAIL = re.compile(r"[ ]?(?:x|ext\.?|extension)[ ]?\d+$")
_PHONE_MIN_DIGITS = 7
_PHONE_MAX_DIGITS = 15  # E.164


def _plausible_phone(value: str, *, min_digits: int = _PHONE_MIN_DIGITS) -> bool:
    """Not a date, and 7-15 digits in the number itself (no extension, no "(0)")."""
    number = _EXTENSION_TAIL.sub("", value)
    if _DATE_LIKE.fullmatch(number):
        return False
    digits = len(_DIGIT.findall(number.replace("(0)", "")))
    return min_digits <= digits <= _PHONE_MAX_DIGITS


def _label_line_before(text: str, start: int) -> bool:
    """The number starts its line and the line before (blank lines skipped) is a label,
    or is another number of a list under that label ("Phone Numbers", then one number
    per line, each perhaps with a note: "(217) 555-0134 - Landline")."""
    line_start = text.rfind("\n", 0, start) + 1
    if _LINE_PREFIX.fullmatch(text, line_start, start) is None or line_start == 0:
        return False
    for _ in range(_LIST_LINES_BACK + 1):
        previous_end = line_start - 1
        while previous_end > 0 and text[previous_end - 1] in " \t\r\n":
            previous_end -= 1  # skip blank lines between label and value
        previous_start = text.rfind("\n", 0, previous_end) + 1
        if previous_end - previous_start > _LABEL_LINE_CHARS:
            return False
        if _LABEL_LINE.match(text, previous_start, previous_end) is not None:
            return True
        if _VALUE_LINE.fullmatch(text, previous_start, previous_end) is None:
            return False
        line_start = previous_start
        if line_start == 0:
            return False
    return False


# (line start, separator) -> the header row of the table that line belongs to, or None.
HeaderCache = dict[tuple[int, str], str | None]


def _table_header(text: str, line_start: int, separator: str, cache: HeaderCache) -> str | None:
    """The first row above ``line_start`` of the block of lines holding ``separator``
    (rule rows such as |---| skipped). Memoised per line, so a directory page of
    thousands of rows costs one walk up its table, not one per number."""
    visited: list[int] = []
    header = None
    while (line_start, separator) not in cache:
        visited.append(line_start)
        if line_start == 0:
            break
        previous_start = text.rfind("\n", 0, line_start - 1) + 1
        previous = text[previous_start : line_start - 1]
        if separator not in previous:
            break
        if _RULE_ROW.fullmatch(previous) is None:
            header = previous
        line_start = previous_start
    else:
        header = cache[(line_start, separator)] or header
    # Each visited line's header is the topmost non-rule row above it: the one found.
    for visited_start in visited:
        cache[(visited_start, separator)] = header
    return header


def _column_label(text: str, start: int, cache: HeaderCache) -> bool:
    """In a table flattened to "|" or tab-separated lines, the header cell of the
    number's column is a phone label ("| Name | Phone |" above "| Anna | 467 3395 |")."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    separator = "|" if "|" in line else "\t" if "\t" in line else None
    if separator is None:
        return False
    header = _table_header(text, line_start, separator, cache)
    if header is None:
        return False
    cells = header.split(separator)
    column = text.count(separator, line_start, start)
    return column < len(cells) and _LABEL_CELL.fullmatch(cells[column]) is not None


def _has_phone_context(text: str, start: int, end: int, cache: HeaderCache) -> bool:
    """A phone word just before the number on its line (unless an address or identifier
    word comes after it), a label after it on its line, a label line before it, or a
    phone label heading its table column."""
    line_start = text.rfind("\n", 0, start) + 1
    window_start = max(line_start, start - _CONTEXT_BEFORE_CHARS)
    last = None
    for last in _CONTEXT_BEFORE.finditer(text, window_start, start):  # noqa: B007
        pass
    if last is not None:
        return last.lastgroup == "phone"
    line_end = text.find("\n", end)
    after_end = end + _CONTEXT_AFTER_CHARS
    after = text[end : after_end if line_end < 0 else min(line_end, after_end)]
    if _CONTEXT_AFTER.match(after) is not None:
        return True
    return _label_line_before(text, start) or _column_label(text, start, cache)


def _glued_ok(text: str, start: int, end: int) -> bool:
    """A label glued before ("Tel.4671234") or after ("-Office") must be a phone label."""
    if start and text[start - 1] in "./-":
        if _GLUED_LABEL.search(text, max(0, start - 20), start - 1) is None:
            return False
    if end < len(text) and text[end] == "-":
        if _CONTEXT_AFTER.match(text, end, end + _CONTEXT_AFTER_CHARS) is None:
            return False
    return True


def _address_like(text: str, value: str, end: int) -> bool:
    """A ZIP and house number, or digits followed by a street name."""
    if _ZIP_AND_HOUSE.fullmatch(value):
        return True
    return _STREET_AFTER.match(text, end, end + 60) is not None


def _continues_a_number(text: str, start: int) -> bool:
    """Digits, a space, then the candidate: the tail of a longer run of digit groups
    (a tracking number "9400 1000 0823 1409 5669 22", "1Z 999 AA1 07 4830 904")."""
    return start >= 2 and text[start - 1] == " " and text[start - 2].isdigit()


def _find_phones(text: str) -> Iterator[tuple[int, int]]:
    for pattern in _PHONE_STRONG:
        for match in pattern.finditer(text):
            value = match.group()
            start, end = match.span()
            min_digits = _TRUNK_MIN_DIGITS if value[0] == "0" else _PHONE_MIN_DIGITS
            if (
                _plausible_phone(value, min_digits=min_digits)
                and _glued_ok(text, start, end)
                and (value[0] in "+(" or not _continues_a_number(text, start))
            ):
                yield start, end
    headers: HeaderCache = {}
    for match in _PHONE_WEAK.finditer(text):
        start, end = match.span()
        value = match.group()
        if (
            _plausible_phone(value)
            and not _continues_a_number(text, start)
            and _glued_ok(text, start, end)
            and not _address_like(text, value, end)
            and _has_phone_context(text, start, end, headers)
        ):
            yield start, end


# ---------------------------------------------------------------------------------------
# All detectors
# ---------------------------------------------------------------------------------------

_DETECTORS: dict[PiiType, Callable[[str], Iterator[tuple[int, int]]]] = {
    PiiType.EMAIL: _find_emails,
    PiiType.CREDIT_CARD: _find_cards,
    PiiType.US_SSN: _find_ssns,
    PiiType.IP_ADDRESS: _find_ips,
    PiiType.PHONE: _find_phones,
}
# Every card number, SSN and phone number has 7+ digits with at most two separator
# characters between consecutive digits. One scan for that skips those three detectors on
# the ~90% of web documents that have no such run.
_LONG_NUMBER = re.compile(r"\d(?:[ ().-]{0,2}\d){6}")
_NEED_LONG_NUMBER = frozenset({PiiType.CREDIT_CARD, PiiType.US_SSN, PiiType.PHONE})


def _candidates(text: str) -> list[PiiSpan]:
    """Every detector's detections, overlaps included."""
    skip = _NEED_LONG_NUMBER if _LONG_NUMBER.search(text) is None else frozenset()
    return [
        PiiSpan(pii_type, start, end, text[start:end])
        for pii_type, detector in _DETECTORS.items()
        if pii_type not in skip
        for start, end in detector(text)
    ]


def _resolve_overlaps(spans: Iterable[PiiSpan]) -> list[PiiSpan]:
    """Keep the highest-priority span of each overlapping group (then the longest, then
    the leftmost), and return the kept ones sorted by start.

    Kept spans never overlap, so their ends are sorted like their starts and a new span
    need only be checked against its two neighbours: O(n log n) even for a directory page
    with thousands of numbers.
    """
    ordered = sorted(spans, key=lambda s: (_RANK[s.type], s.start - s.end, s.start))
    kept: list[PiiSpan] = []
    starts: list[int] = []
    for span in ordered:
        index = bisect.bisect_right(starts, span.start)
        if index and kept[index - 1].end > span.start:
            continue
        if index < len(kept) and kept[index].start < span.end:
            continue
        kept.insert(index, span)
        starts.insert(index, span.start)
    return kept


def find_pii(text: str) -> list[PiiSpan]:
    """All detections in ``text``: non-overlapping, sorted by start."""
    return _resolve_overlaps(_candidates(text))


def count_pii(text: str) -> dict[PiiType, int]:
    """Detections per type; every type is a key, with 0 when it has none."""
    counts = dict.fromkeys(PiiType, 0)
    for span in find_pii(text):
        counts[span.type] += 1
    return counts


def rate_per_1000_words(count: int, words: int) -> float:
    """Detections per 1,000 words; 0.0 for an empty text (it can hold no detection)."""
    if count < 0 or words < 0:
        raise ValueError(f"count and words must be >= 0, got {count} and {words}")
    if words == 0:
        return 0.0
    return 1000.0 * count / words


# ---------------------------------------------------------------------------------------
# Evaluation against labelled spans
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrecisionRecall:
    """Span-level agreement of the detectors with gold labels, for one type.

    ``matched_predicted`` of ``predicted`` detections overlap a gold span of the same
    type; ``matched_gold`` of ``gold`` spans are overlapped by a detection of that type.
    """

    predicted: int
    gold: int
    matched_predicted: int
    matched_gold: int

    @property
    def precision(self) -> float:
        """1.0 when nothing was predicted: no detection was wrong."""
        return self.matched_predicted / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        """1.0 when there is nothing to find."""
        return self.matched_gold / self.gold if self.gold else 1.0


GoldSpan = tuple[PiiType, int, int]  # type, start, end (exclusive)


def _overlaps(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end in spans)


def evaluate(
    samples: Iterable[tuple[str, Sequence[GoldSpan]]],
) -> dict[PiiType, PrecisionRecall]:
    """Precision and recall per type of :func:`find_pii` on labelled texts.

    Matching rule: a detection and a gold span match when they have the same type and
    their character ranges overlap. Overlap, not exact boundaries, because a site-level
    rate only needs the count right: ``+1-555-123-4567 x12`` found without its extension
    is still one phone number found. Gold spans of types the caller does not map to a
    :class:`PiiType` should be left out; a detection on them then counts as wrong.
    """
    tallies = {pii_type: [0, 0, 0, 0] for pii_type in PiiType}
    for text, gold in samples:
        gold_by_type: dict[PiiType, list[tuple[int, int]]] = {t: [] for t in PiiType}
        for pii_type, start, end in gold:
            gold_by_type[pii_type].append((start, end))
        predicted_by_type: dict[PiiType, list[tuple[int, int]]] = {t: [] for t in PiiType}
        for span in find_pii(text):
            predicted_by_type[span.type].append((span.start, span.end))
        for pii_type, tally in tallies.items():
            predicted, expected = predicted_by_type[pii_type], gold_by_type[pii_type]
            tally[0] += len(predicted)
            tally[1] += len(expected)
            tally[2] += sum(_overlaps(s, e, expected) for s, e in predicted)
            tally[3] += sum(_overlaps(s, e, predicted) for s, e in expected)
    return {pii_type: PrecisionRecall(*tally) for pii_type, tally in tallies.items()}
