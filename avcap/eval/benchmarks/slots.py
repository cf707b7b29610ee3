"""Prompt slots of an evaluation script: which input a slot takes, and its value, as Python would make it.

A slot's role is read from the names in its expression (``events``, ``gt_events`` -> the
events; ``caption``, ``pred``, ``description``, ``output`` -> the caption; ``video_id`` ->
the item's id). ``SlotEvaluator`` re-does what Python does for the forms scripts use and
refuses every other form with the line it is on (see ``protocol_file``).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from avcap.errors import ConfigError

_EVENTS_HINT = re.compile(r"event", re.IGNORECASE)
_CAPTION_HINT = re.compile(r"cap|pred|desc|output|response|generat|text|answer", re.IGNORECASE)
_ITEM_HINT = re.compile(r"(^|_)id$|^vid|video|sample|^name$|^key$", re.IGNORECASE)


class TemplateError(ConfigError):
    """A prompt in the script uses a form avcap does not render; the message names the line."""


def slot_role(expr: ast.expr) -> str:
    names = " ".join(n.id for n in ast.walk(expr) if isinstance(n, ast.Name))
    names += " " + " ".join(str(n.value) for n in ast.walk(expr) if isinstance(n, ast.Constant) and isinstance(n.value, str))
    if _EVENTS_HINT.search(names):
        return "events"
    if _CAPTION_HINT.search(names):
        return "caption"
    if any(_ITEM_HINT.search(n) for n in names.split()):
        return "item"  # "Sample ID: {video_id}": the item's id
    return ""


class SlotEvaluator:
    """Evaluates the few expression forms prompt slots use; refuses the rest."""

    def __init__(self, values: dict[str, Any], line: int, bindings: dict[str, ast.expr] | None = None):
        self.values = values
        self.line = line
        self.env: dict[str, Any] = {}
        self.bindings = bindings or {}
        self.resolving: set[str] = set()

    def fail(self, node: ast.AST) -> TemplateError:
        return TemplateError(f"line {getattr(node, 'lineno', self.line)}: avcap cannot render the prompt "
                             f"slot `{ast.unparse(node)}`; pick another template with --protocol-prompt")

    def eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            role = slot_role(node)
            bound = self.bindings.get(node.id)
            if bound is not None and node.id not in self.resolving:
                self.resolving.add(node.id)
                try:
                    return self.eval(bound)
                except TemplateError:
                    # `events = json.loads(row["events"])` is data access, not formatting: the
                    # name then stands for the data itself. A formatting call avcap cannot
                    # evaluate is refused rather than rendered as the raw value.
                    if not (role and _is_data_access(bound)):
                        raise
                finally:
                    self.resolving.discard(node.id)
            if role:
                return self.values[role]
            raise self.fail(node)
        if isinstance(node, ast.Subscript):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and slot_role(key):
                return self.values[slot_role(key)]
            base = self.eval(node.value)
            index = self.eval(key)
            return base[index]
        if isinstance(node, ast.Attribute):
            role = slot_role(ast.Name(id=node.attr))
            if role:
                return self.values[role]
            raise self.fail(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            left, right = self.eval(node.left), self.eval(node.right)
            return left + right if isinstance(node.op, ast.Add) else left - right
        if isinstance(node, ast.JoinedStr):
            out = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    out.append(str(value.value))
                else:
                    v = self.eval(value.value)
                    out.append(repr(v) if value.conversion == ord("r") else str(v))
            return "".join(out)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self.fail(node)

    def _call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("str", "repr", "len") and len(node.args) == 1:
            value = self.eval(node.args[0])
            return {"str": str, "repr": repr, "len": len}[func.id](value)
        if isinstance(func, ast.Attribute) and func.attr == "dumps" and isinstance(func.value, ast.Name) \
                and func.value.id == "json" and len(node.args) == 1:
            kw = {k.arg: self.eval(k.value) for k in node.keywords if k.arg in ("ensure_ascii", "indent")}
            return json.dumps(self.eval(node.args[0]), **kw)
        if isinstance(func, ast.Attribute) and func.attr == "join" and len(node.args) == 1:
            sep = self.eval(func.value)
            arg = node.args[0]
            if isinstance(arg, (ast.GeneratorExp, ast.ListComp)):
                return sep.join(self._comprehension(arg))
            return sep.join(str(x) for x in self.eval(arg))
        if isinstance(func, ast.Attribute) and func.attr == "get" and node.args and \
                isinstance(node.args[0], ast.Constant) and slot_role(node.args[0]):
            return self.values[slot_role(node.args[0])]  # row.get("caption")
        if isinstance(func, ast.Attribute) and func.attr in ("strip", "lower") and not node.args:
            return getattr(str(self.eval(func.value)), func.attr)()
        raise self.fail(node)

    def _comprehension(self, node: ast.GeneratorExp | ast.ListComp) -> list[str]:
        if len(node.generators) != 1 or node.generators[0].ifs:
            raise self.fail(node)
        gen = node.generators[0]
        it = gen.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "enumerate":
            start = self.eval(it.args[1]) if len(it.args) > 1 else 0
            seq = list(enumerate(self.eval(it.args[0]), start))
        else:
            seq = list(self.eval(it))
        out = []
        for item in seq:
            if isinstance(gen.target, ast.Name):
                self.env[gen.target.id] = item
            elif isinstance(gen.target, ast.Tuple) and all(isinstance(t, ast.Name) for t in gen.target.elts):
                for t, v in zip(gen.target.elts, item):
                    self.env[t.id] = v
            else:
                raise self.fail(node)
            out.append(str(self.eval(node.elt)))
        return out


_DATA_CALLS = {"loads", "literal_eval", "list", "get", "eval", "strip", "load"}


def _is_data_access(node: ast.expr) -> bool:
    if isinstance(node, (ast.Subscript, ast.Attribute, ast.Name)):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        return name in _DATA_CALLS
    return False


