"""YAML as plain text values with the line of every key, for located mapping errors.

Scalars stay strings (``0:00:00`` is a time, not YAML 1.1's sexagesimal 0; ``yes`` is a
word): the mapping's validator gives each key its type. Only ``null``/``~``/empty is None.
"""

from __future__ import annotations

from typing import Any

import yaml

from cxsim.data.errors import DataError

NULL = "tag:yaml.org,2002:null"

# key path ("columns.arrival") -> (file, line)
Lines = dict[str, tuple[str, int]]


def _convert(node: yaml.Node, path: str, file: str, lines: Lines) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return None if node.tag == NULL else node.value
    if isinstance(node, yaml.SequenceNode):
        return [_convert(n, f"{path}.{i}", file, lines) for i, n in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise DataError(file, "a key must be plain text", row=key_node.start_mark.line + 1,
                                column=path or None)
            key = key_node.value
            sub = f"{path}.{key}" if path else key
            if key in out:
                raise DataError(file, "duplicate key", row=key_node.start_mark.line + 1,
                                column=sub, value=key)
            lines[sub] = (file, key_node.start_mark.line + 1)
            out[key] = _convert(value_node, sub, file, lines)
        return out
    raise DataError(file, f"unsupported YAML node {type(node).__name__}", column=path or None)


def load_yaml(file: str, text: str) -> tuple[dict, Lines]:
    """The mapping document of ``text`` and the line of each key path; a YAML syntax error or
    a document that is not a mapping raises a DataError with its line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(file, f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                        row=None if mark is None else mark.line + 1) from None
    if node is None:
        return {}, {}
    lines: Lines = {}
    doc = _convert(node, "", file, lines)
    if not isinstance(doc, dict):
        raise DataError(file, "a mapping file must be a YAML mapping of keys", row=1)
    return doc, lines
