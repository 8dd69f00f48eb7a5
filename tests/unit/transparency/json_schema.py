"""A small JSON Schema (2020-12) validator for the keywords report.schema.json uses.

jsonschema is not a dependency; this covers exactly: type, const, enum, properties, required,
additionalProperties, propertyNames, items, pattern, minimum, minLength, oneOf, allOf, and local
``$ref``. An unknown keyword fails loudly, so the schema cannot grow past what is checked.
"""

from __future__ import annotations

import re
from typing import Any

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
_ANNOTATIONS = {"$schema", "$id", "title", "description", "$defs"}


def errors(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> list[str]:
    found: list[str] = []
    for keyword, rule in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "$ref":
            assert rule.startswith("#/"), rule
            target: Any = root
            for part in rule[2:].split("/"):
                target = target[part]
            found += errors(value, target, root, path)
        elif keyword == "type":
            if not _TYPES[rule](value):
                found.append(f"{path}: not {rule}: {value!r}")
        elif keyword == "const":
            if value != rule:
                found.append(f"{path}: not {rule!r}")
        elif keyword == "enum":
            if value not in rule:
                found.append(f"{path}: not one of {rule}")
        elif keyword == "pattern":
            if isinstance(value, str) and re.search(rule, value) is None:
                found.append(f"{path}: {value!r} does not match {rule}")
        elif keyword == "minimum":
            if isinstance(value, int) and value < rule:
                found.append(f"{path}: {value} < {rule}")
        elif keyword == "minLength":
            if isinstance(value, str) and len(value) < rule:
                found.append(f"{path}: shorter than {rule}")
        elif keyword == "required":
            if isinstance(value, dict):
                found += [f"{path}: missing {key!r}" for key in rule if key not in value]
        elif keyword == "properties":
            if isinstance(value, dict):
                for key, sub in rule.items():
                    if key in value:
                        found += errors(value[key], sub, root, f"{path}.{key}")
        elif keyword == "additionalProperties":
            if isinstance(value, dict):
                known = schema.get("properties", {})
                for key, item in value.items():
                    if key in known:
                        continue
                    if rule is False:
                        found.append(f"{path}: unexpected {key!r}")
                    elif isinstance(rule, dict):
                        found += errors(item, rule, root, f"{path}.{key}")
        elif keyword == "propertyNames":
            if isinstance(value, dict):
                for key in value:
                    found += errors(key, rule, root, f"{path}[name {key!r}]")
        elif keyword == "items":
            if isinstance(value, list):
                for index, item in enumerate(value):
                    found += errors(item, rule, root, f"{path}[{index}]")
        elif keyword == "oneOf":
            matching = [sub for sub in rule if not errors(value, sub, root, path)]
            if len(matching) != 1:
                found.append(f"{path}: matches {len(matching)} of oneOf, not exactly 1")
        elif keyword == "allOf":
            for sub in rule:
                found += errors(value, sub, root, path)
        else:
            raise AssertionError(f"the test validator does not know the keyword {keyword!r}")
    return found


def validate(value: Any, schema: dict[str, Any]) -> list[str]:
    return errors(value, schema, schema)
