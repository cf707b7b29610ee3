"""The judge prompt of an official evaluation script, read from the user's copy at run time.

The video-SALMONN 2 test set ships its scorer as a Python script whose prompt text avcap must
not copy. ``read_protocol_file`` parses the script with :mod:`ast` — it is never imported or
run — and finds the prompt templates in it: f-strings, ``"...".format(...)`` calls,
``"..." % (...)`` and string concatenations whose slots take the caption and the events.
A slot's role is read from the names in its expression (``events``, ``gt_events`` -> events;
``caption``, ``pred``, ``description``, ``output`` -> caption); a template needs both, and more
than 100 characters of its own text, to count as a judge prompt. The first such template is
the prompt, and the fallback is the one whose name says so (fallback, backup, simple, retry)
or else the next one; ``prompt_name`` / ``fallback_name`` pick them by assigned name instead.

Rendering re-does what Python would do with the slot expressions, for the forms scripts use:
a bare name (``str()`` of the value: a list prints as its repr), ``str``/``repr``/``len``,
``json.dumps``, ``SEP.join(x)`` and ``SEP.join(<f-string> for i, e in enumerate(x, start))``,
subscripts by a string key, ``+`` and ``-`` on numbers and strings. Anything else is refused
with the line it is on, never guessed.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from avcap.errors import ConfigError
from avcap.eval.benchmarks.slots import SlotEvaluator, TemplateError, slot_role

MAX_SCRIPT_BYTES = 2 * 1024 * 1024
MIN_PROMPT_CHARS = 100
_FALLBACK_HINT = re.compile(r"fallback|backup|simple|retry|second|short", re.IGNORECASE)
_SYSTEM_HINT = re.compile(r"system", re.IGNORECASE)


@dataclass(frozen=True)
class Slot:
    expr: ast.expr
    conversion: int = -1  # f-string !r / !s / !a
    role: str = ""  # "events" or "caption"

    @property
    def source(self) -> str:
        return ast.unparse(self.expr)


@dataclass(frozen=True)
class ScriptTemplate:
    name: str  # the variable or function it is assigned in / returned from
    line: int
    parts: tuple[str | Slot, ...]
    # NAME = expr assignments of the template's function (and the module): a slot `{events_text}`
    # renders what `events_text = "\n".join(...)` built, not the raw list.
    bindings: tuple[tuple[str, ast.expr], ...] = ()

    @property
    def roles(self) -> set[str]:
        return {p.role for p in self.parts if isinstance(p, Slot)}

    @property
    def literal_chars(self) -> int:
        return sum(len(p) for p in self.parts if isinstance(p, str))

    @property
    def text(self) -> str:
        """The template with ``{events}`` / ``{caption}`` in its slots (shown and hashed)."""
        return "".join(p if isinstance(p, str) else "{" + p.role + ": " + p.source + "}" for p in self.parts)

    def render(self, caption: str, events: list[str], item: str = "") -> str:
        values = {"events": list(events), "caption": caption, "item": item}
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = SlotEvaluator(values, self.line, dict(self.bindings)).eval(part.expr)
            out.append(repr(value) if part.conversion == ord("r") else str(value))
        return "".join(out)


@dataclass(frozen=True)
class OfficialPrompts:
    path: Path
    file_sha256: str
    main: ScriptTemplate
    fallback: ScriptTemplate | None
    system: str | None

    @property
    def prompt_sha256(self) -> str:
        text = "\x00".join([self.system or "", self.main.text, self.fallback.text if self.fallback else ""])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def messages(self, template: ScriptTemplate, caption: str, events: list[str], item: str = "") -> list[dict]:
        user = {"role": "user", "content": template.render(caption, events, item)}
        return [{"role": "system", "content": self.system}, user] if self.system else [user]


def _slot(expr: ast.expr, conversion: int = -1) -> Slot:
    return Slot(expr, conversion, slot_role(expr))


def _format_parts(fmt: str, args: list[ast.expr], kwargs: dict[str, ast.expr], line: int) -> list[str | Slot]:
    import string

    parts: list[str | Slot] = []
    auto = 0
    for literal, field_name, _spec, conv in string.Formatter().parse(fmt):
        if literal:
            parts.append(literal)
        if field_name is None:
            continue
        if field_name == "":
            field_name, auto = str(auto), auto + 1
        base = re.split(r"[.\[]", field_name, maxsplit=1)[0]
        if base.isdigit():
            if int(base) >= len(args):
                raise TemplateError(f"line {line}: format field {{{field_name}}} has no argument")
            expr = args[int(base)]
        else:
            expr = kwargs.get(base, ast.Name(id=base, ctx=ast.Load()))
        parts.append(_slot(expr, ord(conv) if conv else -1))
    return parts


def _percent_parts(fmt: str, right: ast.expr) -> list[str | Slot] | None:
    values = list(right.elts) if isinstance(right, ast.Tuple) else [right]
    pieces = re.split(r"(%[sdr])", fmt.replace("%%", "\x00"))
    parts: list[str | Slot] = []
    for piece in pieces:
        if re.fullmatch(r"%[sdr]", piece):
            if not values:
                return None
            parts.append(_slot(values.pop(0), ord("r") if piece == "%r" else -1))
        elif piece:
            parts.append(piece.replace("\x00", "%"))
    return parts


def _scope_bindings(tree: ast.Module) -> dict[str, dict[str, ast.expr]]:
    """Simple ``NAME = expr`` assignments per function (dotted name; "" is the module)."""
    out: dict[str, dict[str, ast.expr]] = {}

    def walk(body: list[ast.stmt], scope: str) -> None:
        mine = out.setdefault(scope, {})
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                walk(node.body, f"{scope}.{node.name}" if scope else node.name)
                continue
            for sub in ast.walk(node):
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                if isinstance(sub, ast.Assign) and len(sub.targets) == 1 and isinstance(sub.targets[0], ast.Name):
                    mine.setdefault(sub.targets[0].id, sub.value)

    walk(tree.body, "")
    return out


class _Finder(ast.NodeVisitor):
    def __init__(self, bindings: dict[str, dict[str, ast.expr]] | None = None) -> None:
        self.templates: list[ScriptTemplate] = []
        self.constants: dict[str, str] = {}  # NAME = "literal" at any level
        self.scope: list[str] = []
        self.target: str | None = None
        self.bindings = bindings or {}

    def _name(self) -> str:
        return ".".join([*self.scope, self.target] if self.target else self.scope) or "<module>"

    def _add(self, parts: list[str | Slot] | None, line: int) -> None:
        if parts and any(isinstance(p, Slot) for p in parts):
            merged: list[str | Slot] = []
            for p in parts:  # join neighbouring literals
                if isinstance(p, str) and merged and isinstance(merged[-1], str):
                    merged[-1] += p
                else:
                    merged.append(p)
            scope = ".".join(self.scope)
            bound = {**self.bindings.get("", {}), **self.bindings.get(scope, {})}
            if self.target:
                bound.pop(self.target, None)  # the template's own variable is not one of its inputs
            self.templates.append(ScriptTemplate(self._name(), line, tuple(merged), tuple(bound.items())))

    def _flatten_add(self, node: ast.expr) -> list[str | Slot] | None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self._flatten_add(node.left), self._flatten_add(node.right)
            return None if left is None or right is None else left + right
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.JoinedStr):
            return self._joined(node)
        return [_slot(node)]

    def _joined(self, node: ast.JoinedStr) -> list[str | Slot]:
        parts: list[str | Slot] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                parts.append(_slot(value.value, value.conversion))
        return parts

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Assign(self, node: ast.Assign) -> None:
        target = node.targets[0] if len(node.targets) == 1 else None
        self.target = target.id if isinstance(target, ast.Name) else None
        if self.target and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            self.constants[self.target] = node.value.value
        self.generic_visit(node)
        self.target = None

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self._add(self._joined(node), node.lineno)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
            self._add(_percent_parts(node.left.value, node.right), node.lineno)
        elif isinstance(node.op, ast.Add):
            parts = self._flatten_add(node)
            if parts and any(isinstance(p, str) for p in parts):
                self._add(parts, node.lineno)
                return  # the pieces are part of this template, not templates of their own
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "format":
            fmt = None
            if isinstance(func.value, ast.Constant) and isinstance(func.value.value, str):
                fmt = func.value.value
            saved = self.target
            if isinstance(func.value, ast.Name) and func.value.id in self.constants:
                fmt, self.target = self.constants[func.value.id], func.value.id  # named after the template
            if fmt is not None:
                kwargs = {k.arg: k.value for k in node.keywords if k.arg}
                self._add(_format_parts(fmt, list(node.args), kwargs, node.lineno), node.lineno)
            self.target = saved
        self.generic_visit(node)


def find_templates(source: str, path: str = "<script>") -> tuple[list[ScriptTemplate], str | None]:
    """All prompt-like templates of a script, in file order, and a system prompt if one is named."""
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as err:
        raise ConfigError(f"{path}:{err.lineno}: not a Python script avcap can read ({err.msg})") from None
    finder = _Finder(_scope_bindings(tree))
    finder.visit(tree)
    system = next((text for name, text in finder.constants.items()
                   if _SYSTEM_HINT.search(name) and len(text) >= 20), None)
    found = sorted(finder.templates, key=lambda t: t.line)
    return found, system


def read_protocol_file(path: str | Path, prompt_name: str | None = None,
                       fallback_name: str | None = None) -> OfficialPrompts:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: protocol file not found")
    if path.stat().st_size > MAX_SCRIPT_BYTES:
        raise ConfigError(f"{path}: too large to be an evaluation script")
    raw = path.read_bytes()
    templates, system = find_templates(raw.decode("utf-8", errors="replace"), str(path))
    judge = [t for t in templates if t.roles >= {"events", "caption"} and "" not in t.roles
             and t.literal_chars >= MIN_PROMPT_CHARS]

    def pick(name: str) -> ScriptTemplate:
        hit = [t for t in templates if t.name == name or t.name.endswith("." + name)]
        if not hit:
            raise ConfigError(f"{path}: no prompt template named {name!r} (found: "
                              f"{', '.join(sorted({t.name for t in judge})) or 'none'})")
        return hit[0]

    if prompt_name:
        main = pick(prompt_name)
    else:
        plain = [t for t in judge if not _FALLBACK_HINT.search(t.name)]
        if not judge:
            raise ConfigError(f"{path}: no judge prompt found (a template with slots for the caption and the "
                              "events); name one with --protocol-prompt")
        main = (plain or judge)[0]
    if fallback_name:
        fallback = pick(fallback_name)
    else:
        rest = [t for t in judge if t is not main]
        fallback = next((t for t in rest if _FALLBACK_HINT.search(t.name)), rest[0] if rest else None)
    for template in (main, fallback):
        if template is not None:
            template.render("caption", ["event one", "event two"])  # unrenderable slots fail now, in one line
    return OfficialPrompts(path, hashlib.sha256(raw).hexdigest(), main, fallback, system)


def discover_protocol_file(data: Path) -> Path | None:
    """An evaluation script beside the data that holds a judge prompt, if there is one."""
    folder = data if data.is_dir() else data.parent
    scripts = sorted(folder.glob("*.py"), key=lambda p: (0 if "eval" in p.name.lower() else 1, p.name))
    for script in scripts:
        try:
            read_protocol_file(script)
        except ConfigError:
            continue
        return script
    return None
