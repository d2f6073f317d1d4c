#!/usr/bin/python3
"""Validate every *.json under DIR against SCHEMA with python3-jsonschema.

    /usr/bin/python3 bench/jsonschema_validate.py SCHEMA DIR

The peer that bench/schema-bench.sh times: one process, one
Draft202012Validator with a FormatChecker, iter_errors() to the end on
every file (all errors, as ajv --all-errors and cspf report them).  Prints
"PATH: invalid: first message" for each invalid file, then
"invalid: K of N".  Exit 0 when all are valid, 1 when some are not,
2 when the schema or a directory cannot be read.
"""

import json
import os
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
except ImportError as e:  # pragma: no cover
    sys.stderr.write("jsonschema_validate: %s (apt-get install "
                     "python3-jsonschema)\n" % e)
    sys.exit(2)


def files_under(top):
    for root, dirs, names in os.walk(top):
        dirs.sort()
        for name in sorted(names):
            if name.endswith(".json"):
                yield os.path.join(root, name)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: jsonschema_validate.py SCHEMA DIR\n")
        return 2
    try:
        with open(argv[1], encoding="utf-8") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        sys.stderr.write("jsonschema_validate: %s: %s\n" % (argv[1], e))
        return 2
    checker = FormatChecker()
    try:
        from importlib.metadata import version
        jsver = version("jsonschema")
    except Exception:  # pragma: no cover - metadata missing
        jsver = "?"
    sys.stderr.write("jsonschema %s; formats asserted here: %s\n" % (
        jsver,
        ", ".join(f for f in ("email", "date-time", "uri")
                  if f in checker.checkers)))
    validator = Draft202012Validator(schema, format_checker=checker)

    out = sys.stdout
    total = invalid = 0
    for path in files_under(argv[2]):
        total += 1
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            invalid += 1
            out.write("%s: invalid: %s\n" % (path, e))
            continue
        first = None
        for err in validator.iter_errors(doc):
            if first is None:
                first = err
        if first is not None:
            invalid += 1
            out.write("%s: invalid: %s: %s\n" % (
                path, "/" + "/".join(str(p) for p in first.absolute_path),
                first.message))
    out.write("invalid: %d of %d\n" % (invalid, total))
    if total == 0:
        sys.stderr.write("jsonschema_validate: no *.json under %s\n" % argv[2])
        return 2
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
