"""Property-name heuristics and word lists that make the fake data factory's values realistic."""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _lines(block: str) -> tuple[str, ...]:
    """Splits a text block into its non-empty stripped lines (compact, formatter-proof lists)."""
    return tuple(line.strip() for line in block.strip().splitlines() if line.strip())


def _items(block: str) -> tuple[str, ...]:
    """Splits a text block on ``|`` and line ends into stripped items."""
    return tuple(item.strip() for line in _lines(block) for item in line.split("|") if item.strip())


def _choices(block: str) -> dict[str, tuple[str, ...]]:
    """Parses ``kind: value | value ...`` lines into a kind -> values lookup."""
    return {kind.strip(): _items(values) for kind, _, values in (ln.partition(":") for ln in _lines(block))}


def _table(block: str) -> dict[str, str]:
    """Parses ``kind: name name ...`` lines into a name -> kind lookup."""
    return {name: kind for kind, _, names in (ln.partition(":") for ln in _lines(block)) for name in names.split()}


SERVICES = _items("""
    Website redesign | Logo design | Monthly retainer | SEO audit | Consulting (hourly)
    Cloud hosting - monthly | Content writing | Copywriting | Product photography | Bookkeeping
    Tax preparation | Mobile app development | UX research | Data migration | Premium support plan
    Staff training workshop | Brand strategy session | Email campaign | Social media management
    Security review | API integration | Domain renewal | Office chairs | Printer paper (box of 10)
    Laptop setup | Video editing
""")
SENTENCES = _items("""
    Thank you for your business. | Payment is due within 30 days. | Work completed as agreed.
    Please include the invoice number with your payment. | Includes two rounds of revisions.
    Prices are valid for 30 days. | Let us know if you have any questions. | Delivered on schedule.
    Travel expenses are billed separately. | Late payments incur a 1.5% monthly fee.
    Call before delivery. | Net 30 terms apply. | Follow up next week. | Net 15 for repeat orders.
    Customer prefers email contact. | Hours tracked in the shared timesheet.
""")
SUBJECTS = _items("""
    Cannot download invoice PDF | Question about my last payment | Update billing address
    Request for a quote | Duplicate charge on card | Change of contact person | Refund request
    Invoice overdue reminder | Project kickoff meeting | Access to the portal
""")
WORDS = _items("""
    Standard | Premium | Consulting | Design | Hosting | Marketing | Support | Travel | Software
    Hardware | Operations | Sales | Finance | Research | Training | Maintenance | Logistics | Retail
    Office | Utilities
""")
PET_NAMES = _items("Bella | Max | Luna | Charlie | Daisy | Rocky | Milo | Coco | Buddy | Nala")
COMPANY_SUFFIXES = ("Inc", "LLC", "Group", "and Sons", "Ltd", "Co", "Partners", "Studio")
STREET_2 = ("Suite 100", "Suite 210", "Apt. 4B", "Floor 3", "Unit 12", "Suite 505")
CHOICES = _choices("""
    status: active | inactive
    priority: low | normal | high | urgent
    method: bank_transfer | card | cash | check
    unit: hour | day | item | month
    language: en
    locale: en-US
    country: US
    currency: USD
    timezone: America/New_York | America/Chicago | America/Los_Angeles | UTC
    category: Travel | Office supplies | Software | Meals | Rent | Marketing
    role: admin | accountant | staff | viewer
""")
CHOICES["type"] = CHOICES["word"] = WORDS
USUAL = {kind: CHOICES[kind][0] for kind in ("currency", "country", "language", "locale")}

_STRING_EXACT = _table("""
    first_name: first_name firstname given_name
    last_name: last_name lastname surname family_name
    name: name
    person: full_name contact_name contact display_name customer_name client_name owner assignee
    username: username user_name login
    company: company company_name business_name organization organisation account account_name
    company: vendor merchant supplier payee
    email: email
    phone: phone mobile telephone fax
    website: website homepage
    url: url uri link
    street: street address street_address line1 address_line1 address_street_1 address_street1
    street2: line2 address_line2 address_street_2 address_street2
    city: city town
    state: state province region
    zip: zip zipcode zip_code postal_code postcode
    country: country country_code
    currency: currency currency_code
    sentence: description notes note message comment body memo remarks reason summary content
    sentence: details terms footer
    subject: subject headline
    title: title
    slug: slug
    password: password
    token: secret token api_key client_secret
    color: color colour
    ip: ip ip_address
    language: language
    locale: locale
    timezone: timezone time_zone
    code: sku code reference
    status: status
    priority: priority
    type: type kind
    method: method payment_method
    unit: unit
    category: category
    role: role
    uuid: uuid guid
""")

_STRING_SUFFIX = (
    ("_email", "email"),
    ("_phone", "phone"),
    ("_url", "url"),
    ("_uri", "url"),
    ("_name", "title"),
    ("_number", "code"),
    ("_code", "code"),
    ("_notes", "sentence"),
    ("_description", "sentence"),
    ("_message", "sentence"),
    ("_uuid", "uuid"),
    ("_status", "status"),
    ("_type", "type"),
    ("_token", "token"),
    ("_secret", "token"),
)
_MONEY = {
    "price",
    "amount",
    "budget",
    "total",
    "cost",
    "subtotal",
    "sub_total",
    "tax",
    "balance",
    "fee",
    "rate",
    "unit_price",
    "unit_cost",
    "hourly_rate",
    "salary",
    "revenue",
    "income",
    "expenses",
    "profit",
    "outstanding",
    "discount_val",
    "paid",
    "due",
}
_NUMBER_EXACT = _table("""
    quantity: quantity qty
    tax_rate: tax_rate vat_rate tax_percent vat
    percent: percentage percent discount discount_percent discount_rate progress
    id: id
    year: year
    month: month
    day: day
    age: age
    rating: rating stars
    count: count
""")
_END_DATES = {
    "due_date",
    "expiry_date",
    "expiration_date",
    "end_date",
    "valid_until",
    "expires_on",
    "deadline",
    "due_on",
    "due",
}
_BIRTH_DATES = {"birth_date", "date_of_birth", "dob", "birthday"}


def snake(name: str) -> str:
    """Normalises camelCase or kebab-case names to lower snake_case so one rule table fits all."""
    return _CAMEL.sub("_", name).replace("-", "_").lower()


def singular(name: str) -> str:
    """Singularises an array property name so its items get the item-level heuristics."""
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def string_kind(sname: str) -> str | None:
    """Classifies a snake_case string property by name; None means no specific heuristic."""
    kind = _STRING_EXACT.get(sname)
    if kind is not None:
        return kind
    for suffix, suffix_kind in _STRING_SUFFIX:
        if sname.endswith(suffix):
            return suffix_kind
    if sname == "date" or sname.endswith("_date") or sname in _BIRTH_DATES:
        return "date"
    if sname.endswith("_at") or sname in ("timestamp", "created", "updated", "modified"):
        return "datetime"
    return None


def number_kind(sname: str) -> str | None:
    """Classifies a snake_case numeric property by name; None means a plain bounded number."""
    kind = _NUMBER_EXACT.get(sname)
    if kind is not None:
        return kind
    if sname in _MONEY or sname.endswith(
        ("_amount", "_price", "_total", "_cost", "_fee", "_balance", "_cents", "_budget")
    ):
        return "money"
    if sname.endswith(("_percent", "_percentage")):
        return "percent"
    if sname.endswith("_count"):
        return "count"
    if sname.endswith(("status", "_level", "priority")):
        return "small"
    if sname.endswith("_id"):
        return "id"
    if sname.endswith("_at") or sname in ("timestamp", "created", "updated"):
        return "epoch"
    return None


def date_role(sname: str) -> str:
    """Says whether a date is a record's start date, an end date after it, or a birth date."""
    if sname in _END_DATES or sname.startswith(("due", "expir")):
        return "end"
    return "birth" if sname in _BIRTH_DATES else "start"


def timestamp_role(sname: str) -> str:
    """Says whether a timestamp is a creation time, a later event or a (future) expiry."""
    if sname.startswith(("expire", "expiry", "valid_until")):
        return "expiry"
    return "created" if sname.startswith(("created", "inserted", "ship", "date")) else "later"


def name_role(sibs: frozenset[str]) -> str:
    """Decides what a bare `name` means from the sibling property names of its object."""
    if "photo_urls" in sibs:
        return "pet"
    if sibs & {"price", "unit_price", "unit_cost", "rate", "hourly_rate", "sku"}:
        return "service"
    if sibs & {"contact_name", "contact_person", "contact_email"}:
        return "company"
    if sibs & {"email", "phone", "first_name", "last_name", "password", "username", "mobile"}:
        return "person"
    if sibs & {"budget", "start_date", "end_date", "deadline"}:
        return "project"
    return "label"


FAKER_KINDS = _table("""
    email: email safe_email company_email free_email
    company: company
    person: name
    first_name: first_name
    last_name: last_name
    phone: phone_number
    city: city
    state: state_abbr
    zip: zipcode postcode
    street: street_address
    url: url
    username: user_name
    uuid: uuid4
    country: country_code
    currency: currency_code
    sentence: sentence
    password: password
    hostname: domain_name
    ip: ipv4
""")  # Faker providers served by our own coherent generators (example domains only)
