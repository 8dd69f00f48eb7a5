"""lexloci: enforce a government's demand only where that government's law applies.

Participants located in the requesting jurisdiction are blocked from joining and removed from
live meetings; the meeting goes on for everyone else. See DESIGN (docs/architecture.md) for the
invariants I1-I8 that every part of this package keeps.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
