"""Dial-in phone numbers as location evidence.

- Numbers must be international (``+`` and the calling code); a national number has no
  territory we could honestly assume.
- A calling code used by one territory gives that territory: +86 CN, +852 HK, +853 MO, +886 TW.
- A calling code shared by several territories (+1, +7, +44...) gives the whole set as
  ``candidates`` with reason ``shared_calling_code``: lexloci does not guess from area codes,
  because numbers are ported and area codes overlap borders.
- A phone number is weaker evidence than a network address: caller ID can be withheld or
  spoofed, and roaming phones keep their home code. The policy engine therefore uses it only
  when no network signal has an answer.
"""

from __future__ import annotations

from functools import cache

import phonenumbers

from lexloci.errors import InvalidPhoneNumber
from lexloci.geo.model import Reason, Signal, SignalLocation, SourceAnswer
from lexloci.geo.sources import normalize_source_code

__all__ = ["PhoneNumberSource", "normalize_phone"]

_MAX_LEN = 40


def normalize_phone(raw: str) -> tuple[str, int]:
    """Return (E.164 string, calling code) or raise InvalidPhoneNumber saying why."""
    if not isinstance(raw, str):
        raise InvalidPhoneNumber(f"a phone number must be a string, not {type(raw).__name__}")
    text = raw.strip()
    if not text.startswith("+"):
        raise InvalidPhoneNumber(
            f"not an international phone number: {raw!r} (start with + and the calling code)",
            value=raw,
        )
    if len(text) > _MAX_LEN:
        raise InvalidPhoneNumber(f"phone number too long ({len(text)} characters)", value=raw[:40])
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {raw!r} ({exc._msg})", value=raw) from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(
            f"not a possible phone number for calling code +{number.country_code}: {raw!r}",
            value=raw,
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, int(number.country_code or 0)


class PhoneNumberSource:
    name = "phonenumbers"

    def __init__(self) -> None:
        self.version = f"phonenumbers {phonenumbers.__version__}"

    def locate(self, raw: str) -> SignalLocation:
        _, calling_code = normalize_phone(raw)
        return self._for_code(calling_code)

    @cache  # noqa: B019 - one source per process; the cache holds at most ~250 calling codes
    def _for_code(self, calling_code: int) -> SignalLocation:
        regions = [
            code
            for code in (
                normalize_source_code(r)
                for r in phonenumbers.region_codes_for_country_code(calling_code)
            )
            if code is not None
        ]
        answers = tuple(SourceAnswer(self.name, self.version, r) for r in regions)
        if not regions:
            return SignalLocation(
                Signal.PHONE,
                None,
                reason=Reason.NO_SOURCE_ANSWERED,
                detail=f"calling code +{calling_code} belongs to no territory",
            )
        if len(regions) == 1:
            return SignalLocation(Signal.PHONE, regions[0], frozenset(regions), answers)
        return SignalLocation(
            Signal.PHONE,
            None,
            frozenset(regions),
            answers,
            reason=Reason.SHARED_CALLING_CODE,
            detail=f"calling code +{calling_code} is shared by {len(regions)} territories",
        )
