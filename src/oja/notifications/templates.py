"""Safe template rendering: Jinja2's sandbox, narrowed further.

Invariants: a template reaches only the values it is given (the sandbox refuses ``_``-prefixed
attributes, so ``{{ ''.__class__.__mro__ }}`` fails), names no variable outside its event's
(:meth:`EventSpec.variables`), uses only expressions, ``if`` blocks and the filters listed in
:data:`_ALLOWED_FILTERS` (no loops, macros, includes or assignments, no ``range``), and cannot multiply a
string into gigabytes (``*`` and ``**`` are refused). What passes :func:`check` with the event's
sample renders at send time with the real data.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from oja.notifications.catalogue import EventSpec

MAX_TEMPLATE_LENGTH = 5000
MAX_SUBJECT_LENGTH = 300


def money(amount: Any, currency: Any) -> str:
    """Minor units as a price: ``money(1250050, "NGN")`` is ``NGN 12,500.50``."""
    try:
        minor = int(amount)
    except (TypeError, ValueError):
        return f"{currency} {amount}"
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{currency} {sign}{whole:,}.{cents:02d}"


_ALLOWED_FILTERS = (
    "capitalize",
    "default",
    "d",
    "int",
    "lower",
    "round",
    "string",
    "title",
    "trim",
    "truncate",
    "upper",
)
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.If,
    nodes.CondExpr,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
    nodes.Add,
    nodes.Sub,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Neg,
    nodes.Pos,
    nodes.Filter,
    nodes.Test,
    nodes.Call,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Tuple,
    nodes.List,
)


class TemplateProblem(ValueError):
    """Why a template was refused, in words for the admin who wrote it."""


class _Environment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        raise SecurityError(f"the operator {operator!r} is not allowed in templates")


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = _Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    defaults = env.filters
    env.filters = {name: defaults[name] for name in _ALLOWED_FILTERS}
    env.tests = {name: env.tests[name] for name in ("defined", "none", "number", "string")}
    env.globals = {"money": money}
    return env


@lru_cache(maxsize=512)
def compile_template(source: str) -> JinjaTemplate:
    """Parse, check the node types, compile (cached: the same text compiles once per process)."""
    env = environment()
    tree = env.parse(source)
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            raise TemplateProblem(f"{type(node).__name__} is not allowed in templates")
        if isinstance(node, nodes.Call) and not (
            isinstance(node.node, nodes.Name) and node.node.name in env.globals
        ):
            raise TemplateProblem("only money(amount, currency) may be called")
        if isinstance(node, nodes.Filter) and node.name not in env.filters:
            raise TemplateProblem(f"the filter {node.name!r} is not allowed")
    return env.from_string(tree)


def variables_of(source: str) -> set[str]:
    env = environment()
    return set(meta.find_undeclared_variables(env.parse(source))) - set(env.globals)


def render(source: str, context: dict[str, Any]) -> str:
    return compile_template(source).render(context).strip()


def check(spec: EventSpec, body: str, subject: str | None) -> None:
    """Refuse (:class:`TemplateProblem`) a template that would not render for ``spec``'s events."""
    for part, source, limit in (
        ("body", body, MAX_TEMPLATE_LENGTH),
        ("subject", subject, MAX_SUBJECT_LENGTH),
    ):
        if source is None:
            continue
        if len(source) > limit:
            raise TemplateProblem(f"the {part} is longer than {limit} characters")
        try:
            compile_template(source)  # the structure first: loops and unknown filters
            unknown = sorted(variables_of(source) - spec.variables)
            if unknown:
                raise TemplateProblem(
                    f"the {part} uses unknown variables {', '.join(unknown)}; "
                    f"{spec.name} has {', '.join(sorted(spec.variables))}"
                )
            rendered = render(source, {"recipient_name": "Ada", **spec.sample})
        except SecurityError as exc:
            raise TemplateProblem(f"the {part} is not allowed: {exc}") from exc
        except TemplateError as exc:
            raise TemplateProblem(f"the {part} does not render: {exc}") from exc
        if part == "body" and not rendered:
            raise TemplateProblem("the body renders empty")


def as_html(text: str) -> str:
    """The HTML part of an email: the text, escaped, one paragraph per blank-line block."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
