"""Imported for its effect, before nbformat: jsonschema without its optional IRI format checker.

nbformat validates notebooks with jsonschema, which imports rfc3987-syntax for the `iri` formats;
that compiles 38 Lark grammars on import: 2.6 s of every `mining` command on a 2-core machine, for a
format no notebook schema uses. Marked absent, jsonschema leaves that one format unchecked
(python-jsonschema/jsonschema#1428).
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)
