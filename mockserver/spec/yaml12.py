"""Read YAML as a YAML 1.2 (core schema) or JSON reader would, not as PyYAML's YAML 1.1 does.

Real specs write response codes and dates unquoted: YAML 1.1 makes ``200:`` an integer key and
``2024-01-01`` a date, which no JSON document can hold. Here every mapping key is the string it is
written as, dates, ``yes``/``no`` and ``on``/``off`` stay strings, and only ``true``/``false``,
``null``/``~``, and 1.2 numbers are typed. Merge keys (``<<``) still work. Parsing stays in libyaml's C
code when PyYAML has it; only the (Python) resolving of scalars changes.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

# PyYAML's safe loader, parsing in libyaml's C code where PyYAML has it (about ten times faster).
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# (tag, pattern, first characters): the YAML 1.2 core schema's implicit types, ints before floats.
_CORE_SCHEMA = (
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", list("tTfF")),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        list("-+0123456789."),
    ),
    ("tag:yaml.org,2002:merge", r"<<", ["<"]),
)


class Yaml12Loader(SAFE_LOADER):  # type: ignore[misc, valid-type]
    """A safe loader with YAML 1.2 core-schema scalars and string mapping keys."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}  # PyYAML's class table, own copy

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[str, Any]:
        """A mapping whose keys are their source text: ``200`` is ``"200"``, ``2024-01-01`` a string."""
        self.flatten_mapping(node)  # merge keys
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found a list or mapping as a key (JSON keys are strings)",
                    key_node.start_mark,
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping


def _construct_int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    """1.2 integers: ``017`` is seventeen (1.1 read octal), ``0o17`` octal, ``0x1F`` hexadecimal."""
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


for _tag, _pattern, _first in _CORE_SCHEMA:
    Yaml12Loader.add_implicit_resolver(_tag, re.compile(rf"^(?:{_pattern})$"), _first)
Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)  # explicit !!timestamp


def load_yaml(text: str) -> Any:
    """The document in ``text``, read with YAML 1.2 core-schema semantics."""
    return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - a safe loader
