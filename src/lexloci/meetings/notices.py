"""Notices: what a blocked or removed participant, and the host, are told — in their language.

A participant refused at the gate or removed from a live session is told that an authority of
their location demanded it, with the case reference, and that the meeting goes on elsewhere
(DESIGN "notice"). The host is told how many participants, from which territory, under which
case. Languages: English (default), German, Chinese; territory names come from the ISO 3166
translations that ship with pycountry, using the short common name (``Taiwan``, not the
ISO long form).
"""

from __future__ import annotations

import enum
import gettext
from collections.abc import Mapping
from functools import cache

import pycountry

from lexloci.jurisdictions import territory_name

__all__ = [
    "LANGUAGES",
    "NoticeKind",
    "host_notice",
    "notice_texts",
    "participant_notice",
    "pick_language",
]

LANGUAGES = ("en", "de", "zh")
_GETTEXT_LANG = {"de": "de", "zh": "zh_CN"}


class NoticeKind(enum.StrEnum):
    BLOCKED = "blocked"
    REMOVED = "removed"


_PARTICIPANT: Mapping[str, Mapping[NoticeKind, str]] = {
    "en": {
        NoticeKind.BLOCKED: (
            "You cannot join this meeting from {place}: an authority of {place} has demanded "
            "that participants located there be blocked (case {case}). The meeting continues "
            "for participants elsewhere."
        ),
        NoticeKind.REMOVED: (
            "You were removed from this meeting because you are located in {place}: an "
            "authority of {place} has demanded it (case {case}). The meeting continues for "
            "participants elsewhere."
        ),
    },
    "de": {
        NoticeKind.BLOCKED: (
            "Sie können dieser Besprechung von {place} aus nicht beitreten: Eine Behörde von "
            "{place} hat verlangt, Teilnehmende mit Standort dort zu sperren (Fall {case}). "
            "Für Teilnehmende an anderen Orten geht die Besprechung weiter."
        ),
        NoticeKind.REMOVED: (
            "Sie wurden aus dieser Besprechung entfernt, weil Ihr Standort {place} ist: Eine "
            "Behörde von {place} hat es verlangt (Fall {case}). Für Teilnehmende an anderen "
            "Orten geht die Besprechung weiter."
        ),
    },
    "zh": {
        NoticeKind.BLOCKED: (
            "您无法从{place}加入此会议：{place}的有关当局要求阻止位于该地的参与者加入"
            "（案件编号 {case}）。其他地区的参与者可继续参加会议。"
        ),
        NoticeKind.REMOVED: (
            "由于您位于{place}，您已被移出此会议：{place}的有关当局提出了该要求"
            "（案件编号 {case}）。其他地区的参与者可继续参加会议。"
        ),
    },
}

_HOST: Mapping[str, str] = {
    "en": "{count} participant(s) located in {place} were removed under case {case}. "
    "The meeting continues for everyone else.",
    "de": "{count} Teilnehmende mit Standort {place} wurden im Fall {case} entfernt. "
    "Für alle anderen geht die Besprechung weiter.",
    "zh": "根据案件 {case}，已移除位于{place}的 {count} 名参与者。其他人的会议照常进行。",
}


@cache
def _place(territory: str | None, language: str) -> str:
    if territory is None:
        return {"en": "an unknown location", "de": "einem unbekannten Ort", "zh": "未知地点"}[
            language
        ]
    english = territory_name(territory)
    if language == "en":
        return english
    try:
        translation = gettext.translation(
            "iso3166-1", pycountry.LOCALES_DIR, languages=[_GETTEXT_LANG[language]]
        )
    except OSError:
        return english
    return translation.gettext(english)


def pick_language(requested: str | None, accept_language: str | None = None) -> str:
    """An explicit language wins, then the first supported one in Accept-Language, then en."""
    if not requested and not accept_language:  # most joins ask for nothing
        return "en"
    for candidate in [requested or "", *_accept_languages(accept_language or "")]:
        base = candidate.strip().lower().split("-", 1)[0].split("_", 1)[0]
        if base in LANGUAGES:
            return base
    return "en"


def _accept_languages(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def participant_notice(kind: NoticeKind, territory: str | None, case: str, language: str) -> str:
    lang = language if language in LANGUAGES else "en"
    return _PARTICIPANT[lang][kind].format(place=_place(territory, lang), case=case)


def notice_texts(kind: NoticeKind, territory: str | None, case: str) -> dict[str, str]:
    """The notice in every supported language (for platforms that localize themselves)."""
    return {lang: participant_notice(kind, territory, case, lang) for lang in LANGUAGES}


def host_notice(count: int, territory: str | None, case: str, language: str = "en") -> str:
    lang = language if language in LANGUAGES else "en"
    return _HOST[lang].format(count=count, place=_place(territory, lang), case=case)
