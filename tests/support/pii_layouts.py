"""A harder labelled PII set, rendered from layouts the detectors were not written for.

The Presidio set (../shared/data/presidio-synth-pii) is English prose, where a phone
number sits in a sentence beside the word that names it. Web pages that carry personal
information rarely look like that: people-search results, HTML tables and definition
lists flattened to text (label and value on separate lines), footers, vCards, forum
signatures, contact lines in many languages. This module renders such pages with
synthetic values and gold spans, so :func:`paddock.curation.core.pii.evaluate` scores them.

Three choices are independent, so the set is combinatorial rather than a list of
templates: the *layout* (how a label and its value are laid out), the *language* of the
labels, and the *value format* (a country's phone format, an obfuscated e-mail, or a hard
negative: a street address, a ZIP and house number, a date, a price, an ISBN ...). Every
page mixes positives and negatives in the same layout, so a negative sits exactly where a
phone number would. Layouts are split in two: :data:`TUNING_LAYOUTS` may be looked at
while changing the detectors, :data:`HELD_OUT_LAYOUTS` only to report (with other seeds).

Decision recorded here: obfuscated e-mails with bracketed words ("jane [at] example [dot]
com", "jane(at)example.org") are gold e-mails, because they are a person's address on the
page; bare-word forms ("jane at example dot com") are not generated.

All values are synthetic: random digits in real national formats, example domains.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from paddock.curation.core.pii import GoldSpan, PiiType

LANGUAGES = ("en", "de", "fr", "es", "pt", "it", "ru", "zh", "ja", "ko", "nl", "pl")

# Labels per kind of field and language. "phone" covers every phone format.
LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "phone": {
        "en": ("Phone", "Tel.", "Mobile", "Cell", "Fax", "Office", "Home", "Phone number"),
        "de": ("Telefon", "Tel.", "Handy", "Fax", "Mobil", "Telefonnummer"),
        "fr": ("Téléphone", "Tél.", "Portable", "Fax"),
        "es": ("Teléfono", "Tel.", "Móvil", "Celular"),
        "pt": ("Telefone", "Celular", "Tel."),
        "it": ("Telefono", "Cellulare", "Tel."),
        "ru": ("Телефон", "Тел.", "Моб."),  # noqa: RUF001 - Cyrillic, as written
        "zh": ("电话", "手机", "联系电话"),
        "ja": ("電話", "TEL", "携帯", "電話番号"),
        "ko": ("전화", "전화번호", "휴대폰"),
        "nl": ("Telefoon", "Tel.", "Mobiel"),
        "pl": ("Telefon", "Tel.", "Tel. kom."),
    },
    "email": {
        "en": ("Email", "E-mail", "Mail"), "de": ("E-Mail",), "fr": ("Courriel", "E-mail"),
        "es": ("Correo", "Email"), "pt": ("E-mail",), "it": ("Email",), "ru": ("Почта",),
        "zh": ("邮箱", "电子邮件"), "ja": ("メール",), "ko": ("이메일",), "nl": ("E-mail",),
        "pl": ("E-mail",),
    },
    "ip": {lang: ("IP", "IP address", "Last login from") for lang in LANGUAGES},
    "ssn": {lang: ("SSN", "Social Security No.") for lang in LANGUAGES},
    "card": {lang: ("Card", "Card number", "Credit card") for lang in LANGUAGES},
    "address": {
        "en": ("Address", "Office is at", "Located at", "Current address"),
        "de": ("Adresse", "Anschrift"), "fr": ("Adresse",), "es": ("Dirección",),
        "pt": ("Endereço",), "it": ("Indirizzo",), "ru": ("Адрес",), "zh": ("地址",),
        "ja": ("住所",), "ko": ("주소",), "nl": ("Adres",), "pl": ("Adres",),
    },
    "date": {
        "en": ("Date", "Born", "Updated"), "de": ("Datum", "Geboren"), "fr": ("Date",),
        "es": ("Fecha",), "pt": ("Data",), "it": ("Data",), "ru": ("Дата",),
        "zh": ("日期",), "ja": ("日付",), "ko": ("날짜",), "nl": ("Datum",), "pl": ("Data",),
    },
    "hours": {
        "en": ("Hours", "Open"), "de": ("Öffnungszeiten",), "fr": ("Horaires",),
        "es": ("Horario",), "pt": ("Horário",), "it": ("Orari",), "ru": ("Часы работы",),
        "zh": ("营业时间",), "ja": ("営業時間",), "ko": ("영업시간",), "nl": ("Openingstijden",),
        "pl": ("Godziny",),
    },
    "price": {
        "en": ("Price",), "de": ("Preis",), "fr": ("Prix",), "es": ("Precio",),
        "pt": ("Preço",), "it": ("Prezzo",), "ru": ("Цена",), "zh": ("价格",),
        "ja": ("価格",), "ko": ("가격",), "nl": ("Prijs",), "pl": ("Cena",),
    },
    "order": {
        "en": ("Order #", "Order no.", "Invoice"), "de": ("Bestellnummer", "Rechnung Nr."),
        "fr": ("Commande n°",), "es": ("Pedido",), "pt": ("Pedido",), "it": ("Ordine",),
        "ru": ("Заказ №",), "zh": ("订单号",), "ja": ("注文番号",), "ko": ("주문번호",),
        "nl": ("Bestelling",), "pl": ("Zamówienie",),
    },
    "code": {lang: ("ISBN", "SKU", "Item", "Model", "EAN", "Tracking", "VAT", "Version",
                    "Coordinates", "Pages", "Years") for lang in LANGUAGES},
}


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _d(rng: random.Random, count: int, first: str = "123456789") -> str:
    """``count`` digits, the first one from ``first``."""
    return rng.choice(first) + _digits(rng, count - 1)


# --- phone formats, by country ----------------------------------------------------------

PhoneFormat = Callable[[random.Random], str]
PHONE_FORMATS: dict[str, tuple[PhoneFormat, ...]] = {
    "us": (
        lambda r: f"({_d(r, 3, '23456789')}) {_d(r, 3, '23456789')}-{_digits(r, 4)}",
        lambda r: f"{_d(r, 3, '23456789')}-{_d(r, 3, '23456789')}-{_digits(r, 4)}",
        lambda r: f"+1 {_d(r, 3, '23456789')} {_d(r, 3)} {_digits(r, 4)}",
        lambda r: f"{_d(r, 3, '23456789')} {_digits(r, 4)}",  # a local number: 467 3395
    ),
    "uk": (
        lambda r: f"020 {_d(r, 4, '378')} {_digits(r, 4)}",
        lambda r: f"07{_digits(r, 3)} {_digits(r, 6)}",
        lambda r: f"+44 20 {_d(r, 4, '378')} {_digits(r, 4)}",
        lambda r: f"+44 (0)1{_digits(r, 3)} {_digits(r, 6)}",
    ),
    "de": (
        lambda r: f"030 {_d(r, 7)}",
        lambda r: f"030/{_d(r, 7)}",
        lambda r: f"+49 {_d(r, 2)} {_d(r, 7)}",
        lambda r: f"0171 {_d(r, 7)}",
    ),
    "fr": (
        lambda r: "0" + " ".join([_d(r, 1)] + [_digits(r, 2) for _ in range(4)]),
        lambda r: "0" + ".".join([_d(r, 1, "67")] + [_digits(r, 2) for _ in range(4)]),
        lambda r: f"+33 {_d(r, 1)} " + " ".join(_digits(r, 2) for _ in range(4)),
    ),
    "in": (
        lambda r: f"+91 {_d(r, 5, '6789')} {_digits(r, 5)}",
        lambda r: f"{_d(r, 5, '6789')} {_digits(r, 5)}",
        lambda r: _d(r, 10, "6789"),
    ),
    "cn": (
        lambda r: f"1{r.choice('3589')}{_digits(r, 9)}",
        lambda r: f"1{r.choice('3589')}{_digits(r, 1)} {_digits(r, 4)} {_digits(r, 4)}",
        lambda r: f"010-{_d(r, 8)}",
        lambda r: f"+86 1{r.choice('3589')}{_digits(r, 1)} {_digits(r, 4)} {_digits(r, 4)}",
    ),
    "jp": (
        lambda r: f"03-{_d(r, 4)}-{_digits(r, 4)}",
        lambda r: f"0{r.choice('789')}0-{_d(r, 4)}-{_digits(r, 4)}",
        lambda r: f"+81 3-{_d(r, 4)}-{_digits(r, 4)}",
    ),
    "br": (
        lambda r: f"({_d(r, 2)}) 9{_digits(r, 4)}-{_digits(r, 4)}",
        lambda r: f"+55 {_d(r, 2)} 9{_digits(r, 4)}-{_digits(r, 4)}",
    ),
    "au": (
        lambda r: f"(0{r.choice('2378')}) {_d(r, 4)} {_digits(r, 4)}",
        lambda r: f"04{_digits(r, 2)} {_digits(r, 3)} {_digits(r, 3)}",
        lambda r: f"+61 {r.choice('2378')} {_d(r, 4)} {_digits(r, 4)}",
    ),
    "ru": (
        lambda r: f"+7 {_d(r, 3)} {_digits(r, 3)}-{_digits(r, 2)}-{_digits(r, 2)}",
        lambda r: f"8 ({_d(r, 3)}) {_digits(r, 3)}-{_digits(r, 2)}-{_digits(r, 2)}",
    ),
}


def _email(rng: random.Random) -> str:
    first = rng.choice(("anna", "jonas", "li.wei", "m.dubois", "carlos_r", "yuki", "olga"))
    domain = rng.choice(("example.com", "mail.example.de", "example.co.uk", "example.org"))
    user = first + (str(rng.randrange(10, 99)) if rng.random() < 0.4 else "")
    name, _, top = domain.rpartition(".")
    style = rng.randrange(4)
    if style == 0:
        return f"{user} [at] {name.replace('.', ' [dot] ')} [dot] {top}"
    if style == 1:
        return f"{user}(at){domain}"
    return f"{user}@{domain}"


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
    return ".".join(str(rng.randrange(1, 255)) for _ in range(4))


def _ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"


def _luhn_complete(partial: str) -> str:
    for check in "0123456789":
        digits = partial + check
        total = sum(
            (2 * int(c) - 9 if 2 * int(c) > 9 else 2 * int(c)) if i % 2 else int(c)
            for i, c in enumerate(reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def _card(rng: random.Random) -> str:
    digits = _luhn_complete((rng.choice(("4", "51", "55")) + _digits(rng, 14))[:15])
    return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


# --- hard negatives: digits that are not personal information ------------------------

STREETS = ("Market St", "Elm Street", "5th Avenue", "Oak Rd", "Sunset Blvd", "Main St")
NEGATIVE_FORMATS: dict[str, tuple[PhoneFormat, ...]] = {
    "address": (
        lambda r: f"{_d(r, 4)} {r.choice(STREETS)}",
        lambda r: f"{_d(r, 5)} {_d(r, 4)} {r.choice(STREETS)}",  # ZIP + house number
        lambda r: f"{_d(r, 5)} {_d(r, r.randrange(1, 5))}",  # ZIP + house number, no street
        lambda r: f"Suite {_d(r, 3)}, {_d(r, 4)} {_d(r, 4)} {r.choice(STREETS)}",
        lambda r: f"Hauptstraße {_d(r, 2)}, {_d(r, 5)} Berlin",
    ),
    "date": (
        lambda r: f"{r.randrange(1, 29):02d}.{r.randrange(1, 13):02d}.{r.randrange(1950, 2025)}",
        lambda r: f"{r.randrange(1950, 2025)}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}",
        lambda r: f"{r.randrange(1, 13)}/{r.randrange(1, 29)}/{r.randrange(1950, 2025)}",
        lambda r: f"{r.randrange(1950, 2025)}年{r.randrange(1, 13)}月{r.randrange(1, 29)}日",
    ),
    "hours": (
        lambda r: f"{r.randrange(7, 11):02d}:00-{r.randrange(16, 20)}:30",
        lambda r: f"{r.randrange(7, 11)}:00 am - {r.randrange(4, 8)}:30 pm",
    ),
    "price": (
        lambda r: f"${r.randrange(1, 9)},{_digits(r, 3)}.{_digits(r, 2)}",
        lambda r: f"{r.randrange(1, 9)} {_digits(r, 3)} {_digits(r, 3)},00 €",
        lambda r: f"R$ {r.randrange(1, 9)}.{_digits(r, 3)},{_digits(r, 2)}",
        lambda r: f"¥{r.randrange(10, 99)},{_digits(r, 3)}",
    ),
    "order": (
        lambda r: _d(r, 10),
        lambda r: f"{_d(r, 4)}-{_digits(r, 4)}-{_digits(r, 2)}",
        lambda r: f"{_d(r, 3)} {_digits(r, 3)} {_digits(r, 3)}",
    ),
    "code": (
        lambda r: f"978-{r.randrange(0, 9)}-{_digits(r, 3)}-{_digits(r, 5)}-{_digits(r, 1)}",
        lambda r: f"v{r.randrange(1, 20)}.{r.randrange(0, 40)}.{r.randrange(0, 9)}-{_digits(r, 7)}",
        lambda r: f"{r.randrange(10, 89)}.{_digits(r, 6)}, -{r.randrange(10, 170)}.{_digits(r, 6)}",
        lambda r: f"{r.randrange(1950, 2000)}-{r.randrange(2000, 2024)}",
        lambda r: f"pp. {r.randrange(100, 900)}-{r.randrange(900, 999)}",
        lambda r: f"{_d(r, 4)} {_digits(r, 4)} {_digits(r, 4)} {_digits(r, 4)} {_digits(r, 4)} {_digits(r, 2)}",  # noqa: E501 - a USPS tracking number
        lambda r: f"1Z {_digits(r, 3)} AA1 {_digits(r, 2)} {_digits(r, 4)} {_digits(r, 3)}",
        lambda r: f"DE {_d(r, 3)} {_digits(r, 3)} {_digits(r, 3)}",  # a VAT number
        lambda r: f"{r.choice('ABKX')}{r.choice('BKLM')}-{_d(r, 4)}-{_digits(r, 3)}",
        lambda r: f"{r.randrange(1, 9)} {_digits(r, 3)} {_digits(r, 3)} views",
    ),
}

POSITIVES: dict[str, tuple[PiiType, Callable[[random.Random], str]]] = {
    "email": (PiiType.EMAIL, _email),
    "ip": (PiiType.IP_ADDRESS, _ip),
    "ssn": (PiiType.US_SSN, _ssn),
    "card": (PiiType.CREDIT_CARD, _card),
}


@dataclass(frozen=True, slots=True)
class Field:
    """One label and its value; ``pii`` is the gold type, or None for a negative."""

    label: str
    value: str
    pii: PiiType | None


def random_field(rng: random.Random, language: str, *, positive: bool) -> Field:
    """A positive (a phone number most often) or a hard negative, labelled in ``language``."""
    if positive:
        kind = rng.choices(("phone", "email", "ip", "ssn", "card"), (6, 2, 1, 1, 1))[0]
        if kind == "phone":
            country = rng.choice(sorted(PHONE_FORMATS))
            value, pii = rng.choice(PHONE_FORMATS[country])(rng), PiiType.PHONE
        else:
            pii, make = POSITIVES[kind]
            value = make(rng)
    else:
        kind = rng.choice(sorted(NEGATIVE_FORMATS))
        value, pii = rng.choice(NEGATIVE_FORMATS[kind])(rng), None
    labels = LABELS[kind]
    return Field(rng.choice(labels.get(language, labels.get("en", ("",)))), value, pii)


# --- layouts -----------------------------------------------------------------------------


class _Page:
    """Text under construction, with the gold spans of the values written into it."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.gold: list[GoldSpan] = []

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def value(self, field: Field) -> None:
        if field.pii is not None:
            self.gold.append((field.pii, self.length, self.length + len(field.value)))
        self.write(field.value)

    def done(self) -> tuple[str, list[GoldSpan]]:
        return "".join(self.parts), self.gold


def _colon(label: str, rng: random.Random) -> str:
    if label.endswith(("at", "from", "#", "№", "n°")):
        return " "
    if any("\u3000" <= char <= "\u9fff" or "\uac00" <= char <= "\ud7af" for char in label):
        return rng.choice(("\uff1a", ": ", ""))  # a full-width colon, or none
    return rng.choice((": ", ": ", " ", ":"))


def colon_lines(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """A contact block: "Label: value", one per line."""
    page.write(rng.choice(("Contact\n", "Kontakt\n", "联系我们\n", "")))
    for field in fields:
        page.write(field.label + _colon(field.label, rng))
        page.value(field)
        page.write("\n")


def definition_list(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """HTML <dl>/<table> extracted to text: the label on one line, the value on the next."""
    for field in fields:
        page.write(field.label + rng.choice(("", ":", "\n")) + "\n")
        page.value(field)
        page.write("\n")


def pipe_table(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """A two-column table in Markdown-like text: "| Label | value |"."""
    page.write("| Field | Value |\n|---|---|\n")
    for field in fields:
        page.write(f"| {field.label} | ")
        page.value(field)
        page.write(" |\n")


PROSE = {
    "phone": ("You can reach me at {} after 6pm.", "Rufen Sie uns unter {} an.",
              "Appelez-nous au {} du lundi au vendredi.", "请拨打{}联系我们。",
              "Llámenos al {} para más información.", "Позвоните нам: {}",
              "お問い合わせは電話{}まで。", "Text me on {} if you are late."),
    "other": ("The reference {} appears on the form.", "Noted: {}.",
              "We moved on {} to a new place.", "Siehe {} im Anhang.", "参考{}。"),
}


def prose(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """Sentences, the phone verb and the number in the same sentence."""
    for field in fields:
        is_phone = field.pii is PiiType.PHONE
        template = rng.choice(PROSE["phone" if is_phone else "other"])
        if not is_phone:
            template = f"{field.label} {template}"
        before, after = template.split("{}")
        page.write(before)
        page.value(field)
        page.write(after + " ")


def inline_footer(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """A site footer on one line: "Acme GmbH · Tel. 030 1234567 · Fax ... · USt-IdNr. ..."."""
    separator = rng.choice((" · ", " | ", " \u2013 ", ", "))
    page.write(rng.choice(("Acme GmbH", "Example Ltd", "Société Exemple SARL", "示例公司")))
    for field in fields:
        page.write(separator + field.label + rng.choice((" ", ": ", ":")))
        page.value(field)
    page.write("\n© 2024\n")


VCARD_KEYS = {PiiType.PHONE: "TEL;TYPE={}", PiiType.EMAIL: "EMAIL;TYPE=INTERNET"}


def vcard(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """A vCard: properties named by keys, not words ("TEL;TYPE=CELL:", "ADR;TYPE=HOME:")."""
    page.write("BEGIN:VCARD\nVERSION:3.0\nFN:Anna Example\n")
    for field in fields:
        if field.pii is PiiType.PHONE:
            key = f"TEL;TYPE={rng.choice(('CELL', 'WORK', 'HOME', 'VOICE'))}:"
        elif field.pii is PiiType.EMAIL:
            key = "EMAIL;TYPE=INTERNET:"
        elif field.pii is None and field.label in LABELS["address"].get("en", ()):
            key = "ADR;TYPE=HOME:;;"
        else:
            key = f"NOTE:{field.label} "
        page.write(key)
        page.value(field)
        page.write("\n")
    page.write("END:VCARD\n")


def signature(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """A forum signature: values with their labels glued after ("085 175 7641-Office")."""
    page.write("Thanks for the help!\n-- \nJ. Example\n")
    for index, field in enumerate(fields):
        if index:
            page.write(rng.choice((" | ", "\n", " / ")))
        if field.pii is PiiType.PHONE and rng.random() < 0.6:
            page.value(field)
            page.write(rng.choice(("-", " ", " - ")) + field.label.rstrip("."))
        else:
            page.write(field.label + _colon(field.label, rng))
            page.value(field)
    page.write("\n")


def people_search(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """A people-search result: headings, each with its values on the following lines."""
    page.write(f"Anna Example, Age {rng.randrange(20, 90)}\nLives in Springfield, IL\n\n")
    for field in fields:
        heading = {
            PiiType.PHONE: "Phone Numbers", PiiType.EMAIL: "Email Addresses",
        }.get(field.pii, field.label) if field.pii is not None else field.label
        page.write(heading + "\n")
        page.value(field)
        page.write("\n" + rng.choice(("", "Current\n", "View details\n")) + "\n")
    page.write("Relatives: Ben Example, Carla Example\n")


def header_table(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """A table whose labels are in the header row, values in the rows below."""
    page.write("| " + " | ".join(field.label for field in fields) + " |\n")
    page.write("|" + "---|" * len(fields) + "\n| ")
    for field in fields:
        page.value(field)
        page.write(" | ")
    page.write("\n")


def json_record(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """An API record or embedded JSON: labels become keys ("phone_number": "...")."""
    page.write('{"name": "Anna Example"')
    for field in fields:
        key = field.label.lower().rstrip(".#:").strip().replace(" ", rng.choice(("_", "")))
        page.write(f', "{key}": "')
        page.value(field)
        page.write('"')
    page.write("}\n")


def dot_leaders(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """A printed directory: the label, a run of dots, then the value."""
    for field in fields:
        page.write(field.label + " " + "." * rng.randrange(3, 20) + " ")
        page.value(field)
        page.write("\n")


def people_search_multi(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """A people-search result listing several values under one heading, each with a note
    ("(217) 555-0134 - Landline"); the other fields follow as "Label: value"."""
    page.write(f"Anna Example, {rng.randrange(20, 90)}\nAKA: Ann Example\n")
    phones = [field for field in fields if field.pii is PiiType.PHONE]
    if phones:
        page.write(rng.choice(("Phone Numbers", "Phone", "Possible phones")) + "\n")
        for field in phones:
            page.value(field)
            page.write(rng.choice((" - Landline", " (Wireless)", "", " - VoIP")) + "\n")
    for field in fields:
        if field.pii is not PiiType.PHONE:
            page.write(f"{field.label}: ")
            page.value(field)
            page.write("\n")


def classified_ad(page: _Page, fields: Sequence[Field], rng: random.Random) -> None:
    """A classified ad in one paragraph: figures of every kind next to a phone number."""
    page.write(rng.choice(("2BR apartment, 85 m2, available now.", "Selling my bike, barely used.",
                           "Lost cat near the park.")))
    for field in fields:
        if field.pii is PiiType.PHONE:
            page.write(f" {rng.choice(('Call', 'Text', 'Ring'))} Joe on ")
            page.value(field)
            page.write(rng.choice((" after 5.", ".", " (evenings).")))
        else:
            page.write(f" {field.label} ")
            page.value(field)
            page.write(".")
    page.write("\n")


Layout = Callable[[_Page, Sequence[Field], random.Random], None]
TUNING_LAYOUTS: dict[str, Layout] = {
    "colon_lines": colon_lines, "definition_list": definition_list,
    "pipe_table": pipe_table, "prose": prose,
}
HELD_OUT_LAYOUTS: dict[str, Layout] = {
    "inline_footer": inline_footer, "vcard": vcard, "signature": signature,
    "people_search": people_search, "header_table": header_table,
    # Added after the last change to the detectors, and scored once: see the report.
    "json_record": json_record, "dot_leaders": dot_leaders,
    "people_search_multi": people_search_multi, "classified_ad": classified_ad,
}
LAYOUTS: dict[str, Layout] = {**TUNING_LAYOUTS, **HELD_OUT_LAYOUTS}
TUNING_SEED = 19
REPORT_SEED = 2024


def render(
    layout: str, language: str, rng: random.Random, *, fields: int = 6
) -> tuple[str, list[GoldSpan]]:
    """One page in ``layout`` with ``fields`` fields, about half of them negatives."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {sorted(LAYOUTS)}")
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; known: {LANGUAGES}")
    chosen = [random_field(rng, language, positive=rng.random() < 0.5) for _ in range(fields)]
    page = _Page()
    LAYOUTS[layout](page, chosen, rng)
    return page.done()


def hard_set(
    seed: int, layouts: Sequence[str] | None = None, *, pages_per_layout: int = 120
) -> list[tuple[str, list[GoldSpan]]]:
    """``pages_per_layout`` pages of each layout, languages drawn at random; seeded."""
    rng = random.Random(seed)
    names = list(LAYOUTS) if layouts is None else list(layouts)
    return [
        render(name, rng.choice(LANGUAGES), rng)
        for name in names
        for _ in range(pages_per_layout)
    ]
