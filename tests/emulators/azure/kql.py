"""The small part of KQL (Kusto Query Language) that the Azure emulator's
Resource Graph understands.  Standard library only.

Supported, case as in KQL:

  TABLE [| OPERATOR]...

  TABLE     Resources | ResourceContainers   (table names case-insensitive,
            as Resource Graph accepts them)
  where EXPR
  project COL, ...          COL is EXPR or NAME = EXPR
  extend NAME = EXPR, ...
  order by EXPR [asc|desc], ...   (also "sort by"; KQL's default is desc)
  limit N | take N
  count                     one row {"Count": N}

  EXPR      boolean expressions with and, or, not(...), parentheses, and
            comparisons  OPERAND OP OPERAND  where OP is one of
              ==  !=  =~  !~  <  <=  >  >=
              contains  !contains  contains_cs  !contains_cs
              has  !has  has_cs  startswith  !startswith  startswith_cs
              endswith  !endswith  endswith_cs
              in (...)  !in (...)  in~ (...)  !in~ (...)
  OPERAND   a column or a path into it: type, tags['cspf-id'], tags.env,
            properties.sku.name, zones[0]; a string ('..' or ".."), a
            number, true, false; the functions tostring, tolower,
            toupper, isempty, isnotempty, isnull, isnotnull, strlen, not.

Anything else raises KqlError, which the emulator answers as Resource
Graph does: 400 BadRequest with an InvalidQuery detail.
"""

import json
import re


class KqlError(Exception):
    pass


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>@?'(?:[^'\\]|\\.)*'|@?"(?:[^"\\]|\\.)*")
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<wop>!?(?:in~|contains_cs|contains|has_cs|has|startswith_cs|
              startswith|endswith_cs|endswith|in)(?![A-Za-z0-9_~]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>==|!=|=~|!~|<=|>=|<|>|=|\||\(|\)|\[|\]|,|\.|!)
""", re.X)

# Keywords that end an operand path (so "project-away" style names are
# not confused with subtraction: KQL has no minus here anyway).
_OPERATORS = {"where", "project", "extend", "order", "sort", "limit",
              "take", "count"}


def _tokens(text):
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise KqlError("syntax error at %d: %r" % (pos, text[pos:pos + 20]))
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        val = m.group(kind)
        if kind == "str":
            val = _unquote(val)
        elif kind == "num":
            val = float(val) if "." in val else int(val)
        elif kind == "ident" and "-" in val and val not in ("project-away",):
            # "project-away" and the like are not supported; a dashed
            # identifier is an error rather than a silent subtraction.
            raise KqlError("unsupported identifier %r" % val)
        out.append((kind, val))
    out.append(("end", None))
    return out


def _unquote(s):
    verbatim = s.startswith("@")
    if verbatim:
        return s[2:-1]
    body = s[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, text):
        self.t = _tokens(text)
        self.i = 0

    def peek(self, k=0):
        return self.t[self.i + k]

    def take(self):
        tok = self.t[self.i]
        self.i += 1
        return tok

    def expect(self, kind, val=None):
        tok = self.take()
        if tok[0] != kind or (val is not None and _low(tok[1]) != val):
            raise KqlError("expected %s, found %r" % (val or kind, tok[1]))
        return tok

    def at(self, kind, val=None):
        tok = self.peek()
        return tok[0] == kind and (val is None or _low(tok[1]) == val)

    # query := TABLE ('|' op)*
    def query(self):
        kind, table = self.take()
        if kind != "ident" or table.lower() not in ("resources", "resourcecontainers"):
            raise KqlError("unknown table %r: Resources and ResourceContainers are supported" % (table,))
        ops = []
        while self.at("op", "|"):
            self.take()
            ops.append(self.operator())
        if not self.at("end"):
            raise KqlError("unexpected %r" % (self.peek()[1],))
        return table.lower(), ops

    def operator(self):
        kind, word = self.take()
        word = _low(word) if kind == "ident" else word
        if word == "where":
            return ("where", self.expr())
        if word in ("project", "extend"):
            cols = [self.column(word == "extend")]
            while self.at("op", ","):
                self.take()
                cols.append(self.column(word == "extend"))
            return (word, cols)
        if word in ("order", "sort"):
            self.expect("ident", "by")
            keys = [self.sortkey()]
            while self.at("op", ","):
                self.take()
                keys.append(self.sortkey())
            return ("order", keys)
        if word in ("limit", "take"):
            kind, n = self.take()
            if kind != "num" or not isinstance(n, int) or n < 0:
                raise KqlError("limit needs a whole number")
            return ("limit", n)
        if word == "count":
            return ("count", None)
        raise KqlError("unsupported operator %r" % (word,))

    def column(self, named):
        if self.peek()[0] == "ident" and self.peek(1) == ("op", "="):
            name = self.take()[1]
            self.take()
            return (name, self.expr())
        if named:
            raise KqlError("extend needs NAME = EXPR")
        e = self.expr()
        return (_column_name(e), e)

    def sortkey(self):
        e = self.expr()
        desc = True
        if self.at("ident", "asc"):
            self.take()
            desc = False
        elif self.at("ident", "desc"):
            self.take()
        return (e, desc)

    def expr(self):
        left = self.conj()
        while self.at("ident", "or"):
            self.take()
            left = ("or", left, self.conj())
        return left

    def conj(self):
        left = self.comparison()
        while self.at("ident", "and"):
            self.take()
            left = ("and", left, self.comparison())
        return left

    def comparison(self):
        left = self.operand()
        tok = self.peek()
        if tok[0] == "op" and tok[1] in ("==", "!=", "=~", "!~", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", tok[1], left, self.operand())
        if tok[0] == "wop":
            self.take()
            op = tok[1].lower()
            if op.lstrip("!") in ("in", "in~"):
                self.expect("op", "(")
                items = [self.operand()]
                while self.at("op", ","):
                    self.take()
                    items.append(self.operand())
                self.expect("op", ")")
                return ("in", op, left, items)
            return ("cmp", op, left, self.operand())
        return left

    def operand(self):
        kind, val = self.take()
        if kind == "op" and val == "(":
            e = self.expr()
            self.expect("op", ")")
            return e
        if kind in ("str", "num"):
            return ("lit", val)
        if kind == "ident":
            low = val.lower()
            if low in ("true", "false"):
                return ("lit", low == "true")
            if low == "null":
                return ("lit", None)
            if self.at("op", "("):
                self.take()
                args = []
                if not self.at("op", ")"):
                    args.append(self.expr())
                    while self.at("op", ","):
                        self.take()
                        args.append(self.expr())
                self.expect("op", ")")
                if low not in _FUNCS:
                    raise KqlError("unsupported function %r" % (val,))
                return ("call", low, args)
            if low in _OPERATORS:
                raise KqlError("unexpected operator %r" % (val,))
            path = [val]
            while True:
                if self.at("op", "."):
                    self.take()
                    kind, seg = self.take()
                    if kind != "ident":
                        raise KqlError("expected a name after '.'")
                    path.append(seg)
                elif self.at("op", "["):
                    self.take()
                    kind, seg = self.take()
                    if kind not in ("str", "num"):
                        raise KqlError("expected a string or an index in []")
                    self.expect("op", "]")
                    path.append(seg)
                else:
                    break
            return ("path", path)
        raise KqlError("unexpected %r" % (val,))


def _low(v):
    return v.lower() if isinstance(v, str) else v


def _column_name(e):
    if e[0] == "path":
        return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(str(s) for s in e[1]))
    if e[0] == "call" and e[2]:
        return _column_name(e[2][0])
    raise KqlError("project needs NAME = EXPR for an expression")


def _tostr(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


_FUNCS = {
    "tostring": lambda a: _tostr(a[0]),
    "tolower": lambda a: _tostr(a[0]).lower(),
    "toupper": lambda a: _tostr(a[0]).upper(),
    "isempty": lambda a: a[0] is None or a[0] == "",
    "isnotempty": lambda a: not (a[0] is None or a[0] == ""),
    "isnull": lambda a: a[0] is None,
    "isnotnull": lambda a: a[0] is not None,
    "strlen": lambda a: len(_tostr(a[0])),
    "not": lambda a: not _truth(a[0]),
}


def _truth(v):
    return bool(v) and v is not None


def _has(hay, needle, cs):
    flags = 0 if cs else re.I
    return re.search(r"(?<![A-Za-z0-9])" + re.escape(needle) + r"(?![A-Za-z0-9])",
                     hay, flags) is not None


def _compare(op, a, b):
    neg = op.startswith("!") and op not in ("!=", "!~")
    base = op[1:] if neg else op
    if base in ("<", "<=", ">", ">="):
        if a is None or b is None:
            return False
        try:
            if isinstance(a, str) or isinstance(b, str):
                a, b = _tostr(a), _tostr(b)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[base]
        except TypeError:
            return False
    if base in ("==", "!="):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
                and not isinstance(a, bool) and not isinstance(b, bool):
            r = a == b
        else:
            r = _tostr(a) == _tostr(b)
        return r if base == "==" else not r
    sa, sb = _tostr(a), _tostr(b)
    if base == "=~":
        r = sa.lower() == sb.lower()
    elif base == "!~":
        r = sa.lower() != sb.lower()
    elif base == "contains":
        r = sb.lower() in sa.lower()
    elif base == "contains_cs":
        r = sb in sa
    elif base == "has":
        r = _has(sa, sb, False)
    elif base == "has_cs":
        r = _has(sa, sb, True)
    elif base == "startswith":
        r = sa.lower().startswith(sb.lower())
    elif base == "startswith_cs":
        r = sa.startswith(sb)
    elif base == "endswith":
        r = sa.lower().endswith(sb.lower())
    elif base == "endswith_cs":
        r = sa.endswith(sb)
    else:
        raise KqlError("unsupported operator %r" % op)
    return not r if neg else r


def _eval(e, row):
    kind = e[0]
    if kind == "lit":
        return e[1]
    if kind == "path":
        v = row.get(e[1][0]) if isinstance(row, dict) else None
        for seg in e[1][1:]:
            if isinstance(v, dict) and isinstance(seg, str):
                v = v.get(seg)
            elif isinstance(v, list) and isinstance(seg, int) and -len(v) <= seg < len(v):
                v = v[seg]
            else:
                return None
        return v
    if kind == "call":
        return _FUNCS[e[1]]([_eval(a, row) for a in e[2]])
    if kind == "and":
        return _truth(_eval(e[1], row)) and _truth(_eval(e[2], row))
    if kind == "or":
        return _truth(_eval(e[1], row)) or _truth(_eval(e[2], row))
    if kind == "cmp":
        return _compare(e[1], _eval(e[2], row), _eval(e[3], row))
    if kind == "in":
        op, v = e[1], _tostr(_eval(e[2], row))
        items = [_tostr(_eval(i, row)) for i in e[3]]
        if op.endswith("~"):
            r = v.lower() in [i.lower() for i in items]
        else:
            r = v in items
        return not r if op.startswith("!") else r
    raise KqlError("cannot evaluate %r" % (kind,))


def _sort_key(v):
    if v is None:
        return (0, "")
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, (int, float)):
        return (1, v)
    return (2, _tostr(v))


def parse(text):
    """Parses a query; returns (table, operators) or raises KqlError."""
    if not isinstance(text, str) or not text.strip():
        raise KqlError("the query is empty")
    return _Parser(text).query()


def run(parsed, rows):
    """Runs a parsed query over rows (a list of dicts, not modified).
    Returns (rows, columns, limited): columns is the list of projected
    column names, or None when the query projects nothing; limited is
    True when the query has limit/take or count (no paging then)."""
    _table, ops = parsed
    columns = None
    limited = False
    for op, arg in ops:
        if op == "where":
            rows = [r for r in rows if _truth(_eval(arg, r))]
        elif op == "project":
            rows = [{name: _eval(e, r) for name, e in arg} for r in rows]
            columns = [name for name, _ in arg]
        elif op == "extend":
            out = []
            for r in rows:
                r = dict(r)
                for name, e in arg:
                    r[name] = _eval(e, r)
                out.append(r)
            rows = out
            if columns is not None:
                columns = columns + [n for n, _ in arg if n not in columns]
        elif op == "order":
            rows = list(rows)
            for e, desc in reversed(arg):
                rows.sort(key=lambda r: _sort_key(_eval(e, r)), reverse=desc)
        elif op == "limit":
            rows = rows[:arg]
            limited = True
        elif op == "count":
            rows = [{"Count": len(rows)}]
            columns = ["Count"]
            limited = True
    return rows, columns, limited
