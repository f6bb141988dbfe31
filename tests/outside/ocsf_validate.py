#!/usr/bin/env python3
"""ocsf_validate: check NDJSON events against the official OCSF schema.

The schema is not written here: it is the OCSF server's own export of a
released version (`/export/schema`: classes, objects, types, enums,
requirements, profiles, constraints), as shipped by the PyPI package
`ocsf-json-schema` (pinned in requirements.txt), which turns it into a JSON
Schema (draft 2020-12) per class and profile set; the `jsonschema` package
validates against that. On top of the JSON Schema, this script checks what
JSON Schema cannot say:

  * the export really is the version asked for, and each event's
    `metadata.version` is that version;
  * `class_uid` names a class of that version; `category_uid` is the class's;
  * `type_uid` = `class_uid` * 100 + `activity_id`;
  * every profile in `metadata.profiles` is one the class supports (the
    attributes of a profile the class does not take are refused as
    unknown anyway);
  * no attribute marked deprecated in that version is used;
  * no JSON object repeats a member name.

What the JSON Schema checks: every attribute is one the class (or the
object, at its level) defines — `additionalProperties: false` everywhere
except OCSF's free-form `object` type (`unmapped`); required attributes;
types (integer, string, array, object; `timestamp_t` is an integer);
enumerated ids (`activity_id`, `status_id`, `severity_id`, `type_id`, …)
only take values the version defines; string patterns (`ip_t`) and lengths;
the `at_least_one` / `just_one` constraints of objects.

Usage (exit 0: every event valid; 1: some event invalid; 2: usage/setup):
  ocsf_validate.py [--ocsf-version 1.3.0] FILE.ndjson [FILE ...]
  ocsf_validate.py --ocsf-version 1.3.0 -      (read standard input)
  ocsf_validate.py --ocsf-version 1.3.0 --attributes CLASS OBJECT ...
Errors go to standard output, one per line: `line N: $.json.path: message`;
a summary line naming the version and packages goes to standard error.
`--attributes` prints, as one JSON object, the attribute names the version
defines for the class (with all its profiles) and for each object.
"""

import argparse
import json
import sys
from importlib import metadata as pkg_metadata

try:
    import jsonschema
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema, get_packaged_versions
except ImportError as exc:  # pragma: no cover - setup problem, not a finding
    print(f"ocsf_validate: missing dependency ({exc}); "
          "run: python3 -m pip install -r tests/outside/requirements.txt", file=sys.stderr)
    sys.exit(2)


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
        elif p.isidentifier():
            out += f".{p}"
        else:
            out += f"[{json.dumps(p)}]"
    return out


def setup_error(message: str):
    print(f"ocsf_validate: {message}", file=sys.stderr)
    raise SystemExit(2)


class Checker:
    def __init__(self, version: str):
        if version not in get_packaged_versions():
            setup_error(f"ocsf-json-schema carries no OCSF {version} "
                        f"(it has {sorted(get_packaged_versions())})")
        self.export = get_ocsf_schema(version)
        if self.export.get("version") != version:
            setup_error(f"the packaged export says version "
                        f"{self.export.get('version')!r}, not {version!r}")
        self.version = version
        self.generator = OcsfJsonSchemaEmbedded(self.export)
        self.classes = {c["uid"]: c for c in self.export["classes"].values()}
        self.validators = {}

    def validator(self, class_name: str, profiles: tuple):
        key = (class_name, profiles)
        if key not in self.validators:
            schema = self.generator.get_class_schema(class_name, list(profiles))
            jsonschema.Draft202012Validator.check_schema(schema)
            self.validators[key] = (jsonschema.Draft202012Validator(schema), schema)
        return self.validators[key]

    def check(self, event) -> list:
        """Every problem with one event, as (path, message)."""
        if not isinstance(event, dict):
            return [("$", "an OCSF event is a JSON object")]
        errors = []
        cls = self.classes.get(event.get("class_uid"))
        if cls is None:
            return [("$.class_uid", f"not a class of OCSF {self.version}: {event.get('class_uid')!r}")]
        meta = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
        if meta.get("version") != self.version:
            errors.append(("$.metadata.version",
                           f"{meta.get('version')!r}, but validating against {self.version}"))
        if event.get("category_uid") != cls.get("category_uid"):
            errors.append(("$.category_uid",
                           f"{event.get('category_uid')!r} is not class {cls['name']}'s "
                           f"category {cls.get('category_uid')}"))
        activity = event.get("activity_id")
        if isinstance(activity, int) and event.get("type_uid") != cls["uid"] * 100 + activity:
            errors.append(("$.type_uid", f"{event.get('type_uid')!r} is not class_uid*100 + "
                                         f"activity_id = {cls['uid'] * 100 + activity}"))
        profiles = meta.get("profiles") or []
        if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
            profiles = []  # the JSON Schema reports the type error
        for i, p in enumerate(profiles):
            if p not in (cls.get("profiles") or []):
                errors.append((f"$.metadata.profiles[{i}]",
                               f"class {cls['name']} does not take profile {p!r} in OCSF "
                               f"{self.version} (it takes {cls.get('profiles')})"))
        validator, schema = self.validator(cls["name"], tuple(sorted(set(profiles))))
        for e in sorted(validator.iter_errors(event), key=lambda e: list(e.absolute_path)):
            errors.append((json_path(e.absolute_path), e.message))
        errors.extend(self.deprecated(event, schema, schema, []))
        return errors

    def deprecated(self, value, node, root, path) -> list:
        """Uses of attributes the schema marks deprecated."""
        if "$ref" in node:
            ref = node["$ref"]
            node = root["$defs"][ref.rsplit("/", 1)[-1]] if ref.startswith("#/$defs/") else {}
        out = []
        if isinstance(value, dict):
            for k, v in value.items():
                prop = node.get("properties", {}).get(k)
                if prop is None:
                    continue
                if prop.get("deprecated"):
                    out.append((json_path(path + [k]), f"deprecated in OCSF {self.version}"))
                out.extend(self.deprecated(v, prop, root, path + [k]))
        elif isinstance(value, list) and "items" in node:
            for i, v in enumerate(value):
                out.extend(self.deprecated(v, node["items"], root, path + [i]))
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ocsf-version", default="1.3.0")
    ap.add_argument("--attributes", action="store_true",
                    help="print the attributes of the named class and objects")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    checker = Checker(args.ocsf_version)
    if args.attributes:
        cls, *objects = args.files
        out = {cls: sorted(checker.export["classes"][cls]["attributes"])}
        for o in objects:
            out[o] = sorted(checker.export["objects"][o]["attributes"])
        print(json.dumps(out))
        return 0
    total = bad = 0
    for name in args.files:
        stream = sys.stdin if name == "-" else open(name, encoding="utf-8")
        with stream:
            for n, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                total += 1
                try:
                    event = json.loads(line, object_pairs_hook=no_duplicates)
                    errors = checker.check(event)
                except (ValueError, Duplicate) as exc:
                    errors = [("$", f"not JSON: {exc}")]
                if errors:
                    bad += 1
                    for path, msg in errors:
                        print(f"line {n}: {path}: {msg}")
    pkg = pkg_metadata.version("ocsf-json-schema")
    summary = (f"ocsf_validate: {total - bad} of {total} events valid against OCSF "
               f"{checker.version} (ocsf-json-schema {pkg}, jsonschema "
               f"{pkg_metadata.version('jsonschema')})")
    print(summary, file=sys.stderr)
    if total == 0:
        print("ocsf_validate: no events", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
