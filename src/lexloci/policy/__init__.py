"""The policy engine: restrictions, decisions with reasons, sweeps and the scope guard.

Pure domain: imports the standard library and ``lexloci.geo``, ``lexloci.jurisdictions``,
``lexloci.errors`` only (an import-linter contract keeps web, storage and I/O out).

Invariants this package keeps, each tested (property tests in ``tests/unit/policy``):

- I1: a restriction of jurisdiction J denies or removes only participants the signal rule
  (``placement``) places INSIDE J, or UNCERTAIN ones under a policy the case declared;
- I2: no output ends a session or a meeting or touches an account (``Decision`` and
  ``Removal`` are the only outputs); account actions pass the scope guard or do not exist;
- I5: a disclosure includes only records located INSIDE at the time of their event;
- I6: uncertain locations follow the restriction's ``unknown_location`` policy and are reported
  with their own reason codes;
- I8: every restriction has an end and can be lifted; neither an expired nor a lifted one matches.

Module map: ``restriction`` (what a restriction is), ``placement`` (the signal rule),
``decision`` (decisions and their reasons), ``sweep`` (live participants and removals),
``engine`` (the compiled index and its changes), ``scope_guard`` (proposals vs. authority).
"""

from lexloci.policy.decision import (
    Decision,
    DecisionIdSource,
    DecisionReason,
    Effect,
    ReasonCode,
    SessionContext,
)
from lexloci.policy.engine import Change, ChangeKind, PolicyEngine, PolicyIndex
from lexloci.policy.placement import (
    best_estimate,
    candidates_of,
    classify_location,
    classify_signal,
    estimate_inside,
    location_keys,
    names_any_candidate,
    place_territory,
)
from lexloci.policy.restriction import (
    DEFAULT_VALIDITY,
    AnonymizerPolicy,
    Enforcement,
    Restriction,
    Scope,
    ScopeKind,
    UnknownLocationPolicy,
)
from lexloci.policy.scope_guard import (
    AccountAction,
    AccountActionProposal,
    Authority,
    DisclosureProposal,
    DisclosureRecord,
    DisclosureReview,
    Refusal,
    RefusalCode,
    RestrictionProposal,
    Review,
    Verdict,
    review_account_action,
    review_disclosure,
    review_restriction,
)
from lexloci.policy.sweep import LiveParticipant, Removal

__all__ = [
    "DEFAULT_VALIDITY",
    "AccountAction",
    "AccountActionProposal",
    "AnonymizerPolicy",
    "Authority",
    "Change",
    "ChangeKind",
    "Decision",
    "DecisionIdSource",
    "DecisionReason",
    "DisclosureProposal",
    "DisclosureRecord",
    "DisclosureReview",
    "Effect",
    "Enforcement",
    "LiveParticipant",
    "PolicyEngine",
    "PolicyIndex",
    "ReasonCode",
    "Refusal",
    "RefusalCode",
    "Removal",
    "Restriction",
    "RestrictionProposal",
    "Review",
    "Scope",
    "ScopeKind",
    "SessionContext",
    "UnknownLocationPolicy",
    "Verdict",
    "best_estimate",
    "candidates_of",
    "classify_location",
    "classify_signal",
    "estimate_inside",
    "location_keys",
    "names_any_candidate",
    "place_territory",
    "review_account_action",
    "review_disclosure",
    "review_restriction",
]
