#!/usr/bin/env python3
"""oscal_validate: check OSCAL assessment-results JSON against the official models.

The models are not written here: they are the pydantic models that the PyPI
package `compliance-trestle` (pinned in requirements.txt) generates from the
official NIST OSCAL JSON schema of the version it targets
(`trestle.oscal.OSCAL_VERSION`; `trestle.oscal.assessment_results`), with
`extra='forbid'` everywhere: every property must be one the schema defines,
required properties present, types, string patterns (UUIDs, tokens, one-line
titles), enumerations (observation methods, finding-target types, objective
states) and minimum list lengths. On top of the models, this script checks
what the JSON Schema cannot say:

  * `metadata.oscal-version` is the version the models are for;
  * no JSON object repeats a member name;
  * every UUID that identifies something is unique in the document;
  * every `observation-uuid`, `risk-uuid`, `subject-uuid`, `actor-uuid`
    and `party-uuids` entry refers to something the document defines;
  * `import-ap.href` of the form `#UUID` names a back-matter resource;
  * every finding's `target-id` is among the controls the result reviews.

Usage (exit 0: every document valid; 1: some document invalid; 2: setup):
  oscal_validate.py FILE.json [FILE ...]      ('-' reads standard input)
Errors go to standard output, one per line: `FILE: $.json.path: message`;
a summary naming the OSCAL version and packages goes to standard error.
"""

import json
import re
import sys
from importlib import metadata as pkg_metadata

try:
    import pydantic
    import trestle.oscal
    from trestle.oscal.assessment_results import Model
except ImportError as exc:  # pragma: no cover - setup problem, not a finding
    print(f"oscal_validate: missing dependency ({exc}); "
          "run: python3 -m pip install -r tests/outside/requirements.txt", file=sys.stderr)
    sys.exit(2)

UUID_KEYS = {"uuid"}
REF_KEYS = {"observation-uuid", "risk-uuid", "subject-uuid", "actor-uuid"}


class Duplicate(ValueError):
    pass


def no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise Duplicate(f"member {k!r} appears twice in one object")
        seen[k] = v
    return seen


def json_path(parts) -> str:
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(p)):
            out += f".{p}"
        else:
            out += f"[{json.dumps(p)}]"
    return out


def walk(value, path):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, path + [k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, path + [i])


def check(doc) -> list:
    """Every problem with one document, as (path, message)."""
    errors = []
    try:
        Model.model_validate(doc)
    except pydantic.ValidationError as exc:
        for e in exc.errors():
            errors.append((json_path(list(e["loc"])), e["msg"]))
    if not isinstance(doc, dict) or not isinstance(doc.get("assessment-results"), dict):
        return errors or [("$", "not an assessment-results document")]
    ar = doc["assessment-results"]
    version = (ar.get("metadata") or {}).get("oscal-version")
    if not re.match(trestle.oscal.OSCAL_VERSION_REGEX, str(version)):
        errors.append((json_path(["assessment-results", "metadata", "oscal-version"]),
                       f"{version!r}, but the models are OSCAL {trestle.oscal.OSCAL_VERSION}"))
    defined = {}
    for path, v in walk(doc, []):
        if isinstance(v, dict):
            u = v.get("uuid")
            if isinstance(u, str):
                if u in defined:
                    errors.append((json_path(path + ["uuid"]),
                                   f"UUID {u} already identifies {json_path(defined[u])}"))
                else:
                    defined[u] = path
    for path, v in walk(doc, []):
        if isinstance(v, dict):
            for k in REF_KEYS:
                if isinstance(v.get(k), str) and v[k] not in defined:
                    errors.append((json_path(path + [k]), f"refers to undefined UUID {v[k]}"))
            for i, u in enumerate(v.get("party-uuids") or []):
                if isinstance(u, str) and u not in defined:
                    errors.append((json_path(path + ["party-uuids", i]),
                                   f"refers to undefined UUID {u}"))
    href = (ar.get("import-ap") or {}).get("href", "")
    if isinstance(href, str) and href.startswith("#"):
        resources = {r.get("uuid") for r in ((ar.get("back-matter") or {}).get("resources") or [])}
        if href[1:] not in resources:
            errors.append((json_path(["assessment-results", "import-ap", "href"]),
                           f"{href} names no back-matter resource"))
    for ri, result in enumerate(ar.get("results") or []):
        if not isinstance(result, dict):
            continue
        reviewed = set()
        for sel in (result.get("reviewed-controls") or {}).get("control-selections") or []:
            if isinstance(sel, dict):
                if "include-all" in sel:
                    reviewed = None
                    break
                reviewed |= {c.get("control-id") for c in sel.get("include-controls") or []
                             if isinstance(c, dict)}
        for fi, f in enumerate(result.get("findings") or []):
            target = (f or {}).get("target") or {}
            if reviewed is not None and target.get("type") == "objective-id" \
                    and target.get("target-id") not in reviewed:
                errors.append((json_path(["assessment-results", "results", ri, "findings", fi,
                                          "target", "target-id"]),
                               f"{target.get('target-id')!r} is not a reviewed control"))
    return errors


def main() -> int:
    files = sys.argv[1:]
    if not files or any(f.startswith("--") for f in files):
        print(__doc__, file=sys.stderr)
        return 2
    total = bad = 0
    for name in files:
        total += 1
        try:
            stream = sys.stdin if name == "-" else open(name, encoding="utf-8")
            with stream:
                doc = json.load(stream, object_pairs_hook=no_duplicates)
            errors = check(doc)
        except (ValueError, Duplicate) as exc:
            errors = [("$", f"not JSON: {exc}")]
        if errors:
            bad += 1
            for path, msg in errors:
                print(f"{name}: {path}: {msg}")
    print(f"oscal_validate: {total - bad} of {total} documents valid against OSCAL "
          f"{trestle.oscal.OSCAL_VERSION} assessment-results (compliance-trestle "
          f"{pkg_metadata.version('compliance-trestle')}, pydantic {pydantic.VERSION})",
          file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
