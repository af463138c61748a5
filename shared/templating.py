"""Message templates: validation at save time and sandboxed rendering at send time.

Templates use Jinja syntax (``Hello {{ first_name }}``) in a sandbox, so template
code can't reach Python objects, and with strict undefined variables, so a variable
that is missing at send time raises instead of leaving an empty hole.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Variables every recipient has, taken from the directory profile.
PROFILE_VARIABLES = frozenset({"first_name", "last_name", "full_name", "email"})

# The variable that contains the recipient's row of the campaign's CSV list. Templates
# read one column at a time, as ``{{ csv.department }}`` or ``{{ csv["department"] }}``.
CSV_VARIABLE = "csv"
# Failure reason of a delivery whose template reads csv.<column> when the recipient
# (a user or group member picked directly) has no row in the campaign's CSV list.
NOT_IN_CSV_LIST_REASON = "no row for this recipient in the campaign's CSV list, which the template reads"

_environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass(frozen=True)
class TemplateProblem:
    """A reason why a template can't be saved, with the line where it was found."""

    message: str
    line: int | None = None


class TemplateRenderError(Exception):
    """A template failed to render for one recipient."""


def check_template(
    source: str, allowed: Iterable[str] = PROFILE_VARIABLES, *, csv_columns: Collection[str] | None = None
) -> TemplateProblem | None:
    """Return the first problem in ``source``, or None when it can be saved.

    ``csv_columns`` are the columns of the campaign's CSV list, or None when it has
    none; ``csv.<column>`` is valid only for one of them.
    """
    try:
        parsed = _environment.parse(source)
    except TemplateSyntaxError as error:
        return TemplateProblem(f"template syntax error: {error.message}", error.lineno)
    allowed_names = set(allowed)
    undeclared = meta.find_undeclared_variables(parsed)
    unknown = sorted(undeclared - allowed_names - {CSV_VARIABLE})
    if unknown:
        names = ", ".join(unknown)
        choices = sorted(allowed_names) + [f"{CSV_VARIABLE}.{column}" for column in sorted(csv_columns or ())]
        return TemplateProblem(f"unknown template variable(s): {names}; available: {', '.join(choices)}")
    if CSV_VARIABLE in undeclared:
        return _check_csv_references(_csv_references(parsed), csv_columns)
    return None


@dataclass(frozen=True)
class _CsvReferences:
    columns: frozenset[str]
    # True when the template uses ``csv`` other than as ``csv.<column>`` or
    # ``csv["<column>"]``, such as ``{{ csv }}`` or ``csv[name]``.
    other_use: bool


def _csv_references(parsed: nodes.Template) -> _CsvReferences:
    """Collect the CSV columns that the parsed template reads."""
    columns: set[str] = set()
    read_by_column: set[int] = set()
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not (isinstance(target, nodes.Name) and target.name == CSV_VARIABLE and target.ctx == "load"):
            continue
        if isinstance(node, nodes.Getattr):
            columns.add(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            columns.add(node.arg.value)
        else:
            continue
        read_by_column.add(id(target))
    other_use = any(
        id(name) not in read_by_column
        for name in parsed.find_all(nodes.Name)
        if name.name == CSV_VARIABLE and name.ctx == "load"
    )
    return _CsvReferences(frozenset(columns), other_use)


def _check_csv_references(references: _CsvReferences, csv_columns: Collection[str] | None) -> TemplateProblem | None:
    if references.other_use:
        return TemplateProblem(
            f"read CSV values one column at a time, as {{{{ {CSV_VARIABLE}.department }}}}; "
            f"other uses of '{CSV_VARIABLE}' are not supported"
        )
    used = ", ".join(f"{CSV_VARIABLE}.{column}" for column in sorted(references.columns))
    if csv_columns is None:
        return TemplateProblem(f"{used} needs a CSV recipient list; upload one to the campaign first")
    missing = sorted(references.columns - set(csv_columns))
    if missing:
        names = ", ".join(f"{CSV_VARIABLE}.{column}" for column in missing)
        present = ", ".join(f"{CSV_VARIABLE}.{column}" for column in sorted(csv_columns)) or "none"
        return TemplateProblem(f"unknown CSV column(s): {names}; the campaign's CSV list has: {present}")
    return None


def csv_columns_used(source: str) -> frozenset[str]:
    """Return the CSV columns that ``source`` reads; empty for a template with a syntax error."""
    try:
        parsed = _environment.parse(source)
    except TemplateSyntaxError:
        return frozenset()
    if CSV_VARIABLE not in meta.find_undeclared_variables(parsed):
        return frozenset()
    return _csv_references(parsed).columns


class CsvValues(SimpleNamespace):
    """One recipient's CSV row, with each column as an attribute.

    An attribute object rather than a dict, so that a column named like a dict
    method (``items``, ``keys``) still reads the column.
    """


class CompiledTemplate:
    """A subject and body compiled once and rendered for many recipients."""

    def __init__(self, *, subject: str, body: str) -> None:
        self._subject = _environment.from_string(subject)
        self._body = _environment.from_string(body)
        self.uses_csv = any(
            CSV_VARIABLE in meta.find_undeclared_variables(_environment.parse(source)) for source in (subject, body)
        )

    def render(self, variables: Mapping[str, object]) -> tuple[str, str]:
        try:
            return self._subject.render(variables), self._body.render(variables)
        except (UndefinedError, SecurityError) as error:
            raise TemplateRenderError(str(error)) from error


def profile_variables(*, first_name: str, last_name: str, email: str | None) -> dict[str, str]:
    full_name = " ".join(part for part in (first_name, last_name) if part)
    return {
        "first_name": first_name,
        "last_name": last_name,
        "full_name": full_name,
        "email": email or "",
    }
