#!/usr/bin/python3
"""Validate a registry's files against cspf's schemas with python3-jsonschema.

    /usr/bin/python3 bench/jsonschema_registry.py SCHEMADIR REGISTRY KINDS

The peer that bench/registry-bench.sh times, "schema only": no references,
no duplicate ids, no git.  KINDS is the map bench/gen_registry.py writes
(one "PATH<TAB>KIND" line per file, PATH relative to REGISTRY): each file
is validated against SCHEMADIR/KIND.json.  One process; every schema of
SCHEMADIR is loaded into one store by its $id, so that "common.json#/..."
resolves (against https://schema.cspf.dev/v1/); one Draft202012Validator
with a FormatChecker per kind, iter_errors() to the end on every file.
Prints "PATH: invalid: first message" for each invalid file, then
"invalid: K of N".  Exit 0 when all are valid, 1 when some are not, 2 when
a schema, the map or the registry cannot be read.
"""

import json
import os
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker, RefResolver
except ImportError as e:  # pragma: no cover
    sys.stderr.write("jsonschema_registry: %s (apt-get install "
                     "python3-jsonschema)\n" % e)
    sys.exit(2)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: jsonschema_registry.py SCHEMADIR REGISTRY "
                         "KINDS\n")
        return 2
    schemadir, reg, kindsfile = argv[1:]
    store = {}
    schemas = {}
    try:
        for name in sorted(os.listdir(schemadir)):
            if not name.endswith(".json"):
                continue
            path = os.path.join(schemadir, name)
            with open(path, encoding="utf-8") as f:
                s = json.load(f)
            Draft202012Validator.check_schema(s)
            schemas[name[:-5]] = s
            if "$id" in s:
                store[s["$id"]] = s
        with open(kindsfile, encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t") for line in f
                    if line.strip() and not line.startswith("#")]
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        sys.stderr.write("jsonschema_registry: %s\n" % e)
        return 2
    checker = FormatChecker()
    try:
        from importlib.metadata import version
        jsver = version("jsonschema")
    except Exception:  # pragma: no cover - metadata missing
        jsver = "?"
    used = ("email", "uri", "date-time", "date", "duration", "uuid",
            "hostname", "ipv4", "ipv6")
    sys.stderr.write("jsonschema %s; formats asserted here: %s; not: %s\n" % (
        jsver, ", ".join(f for f in used if f in checker.checkers),
        ", ".join(f for f in used if f not in checker.checkers) or "-"))

    validators = {}
    out = sys.stdout
    total = invalid = 0
    for row in rows:
        if len(row) != 2:
            sys.stderr.write("jsonschema_registry: %s: bad line %r\n" % (
                kindsfile, "\t".join(row)))
            return 2
        rel, kind = row
        v = validators.get(kind)
        if v is None:
            s = schemas.get(kind)
            if s is None:
                sys.stderr.write("jsonschema_registry: no schema %s/%s.json "
                                 "(for %s)\n" % (schemadir, kind, rel))
                return 2
            resolver = RefResolver(s.get("$id", ""), s, store=store)
            v = validators[kind] = Draft202012Validator(
                s, resolver=resolver, format_checker=checker)
        total += 1
        path = os.path.join(reg, rel)
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            invalid += 1
            out.write("%s: invalid: %s\n" % (path, e))
            continue
        first = None
        for err in v.iter_errors(doc):
            if first is None:
                first = err
        if first is not None:
            invalid += 1
            out.write("%s: invalid: %s: %s\n" % (
                path, "/" + "/".join(str(p) for p in first.absolute_path),
                first.message))
    out.write("invalid: %d of %d\n" % (invalid, total))
    if total == 0:
        sys.stderr.write("jsonschema_registry: %s lists no file\n" % kindsfile)
        return 2
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
