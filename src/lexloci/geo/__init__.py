"""Geolocation with evidence: IP databases, phone numbers, anonymizers, trusted proxies.

Pure domain: imports the standard library and the data packages (iptocc, maxminddb,
phonenumbers, pycountry), never a web framework or storage.
"""

from lexloci.geo.addresses import non_global_kind, parse_ip
from lexloci.geo.client_address import ClientAddress, TrustedProxies, resolve_client_address
from lexloci.geo.locator import Locator
from lexloci.geo.model import Evidence, Flag, Location, Reason, Signal, SignalLocation, SourceAnswer
from lexloci.geo.phone import PhoneNumberSource, normalize_phone
from lexloci.geo.sources import (
    AnonymizerSource,
    IpCountrySource,
    IptoccSource,
    MmdbAnonymizerSource,
    MmdbCountrySource,
    TorExitListSource,
)

__all__ = [
    "AnonymizerSource",
    "ClientAddress",
    "Evidence",
    "Flag",
    "IpCountrySource",
    "IptoccSource",
    "Location",
    "Locator",
    "MmdbAnonymizerSource",
    "MmdbCountrySource",
    "PhoneNumberSource",
    "Reason",
    "Signal",
    "SignalLocation",
    "SourceAnswer",
    "TorExitListSource",
    "TrustedProxies",
    "non_global_kind",
    "normalize_phone",
    "parse_ip",
    "resolve_client_address",
]
