"""Message templates: validation at save time and sandboxed rendering at send time.

Templates use Jinja syntax (``Hello {{ first_name }}``) in a sandbox, so template
code can't reach Python objects, and with strict undefined variables, so a variable
that is missing at send time raises instead of leaving an empty hole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Variables every recipient has, taken from the directory profile.
PROFILE_VARIABLES = frozenset({"first_name", "last_name", "full_name", "email"})

_environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass(frozen=True)
class TemplateProblem:
    """A reason why a template can't be saved, with the line where it was found."""

    message: str
    line: int | None = None


class TemplateRenderError(Exception):
    """A template failed to render for one recipient."""


def check_template(source: str, allowed: Iterable[str] = PROFILE_VARIABLES) -> TemplateProblem | None:
    """Return the first problem in ``source``, or None when it can be saved."""
    try:
        parsed = _environment.parse(source)
    except TemplateSyntaxError as error:
        return TemplateProblem(f"template syntax error: {error.message}", error.lineno)
    allowed_names = set(allowed)
    unknown = sorted(meta.find_undeclared_variables(parsed) - allowed_names)
    if unknown:
        names = ", ".join(unknown)
        choices = ", ".join(sorted(allowed_names))
        return TemplateProblem(f"unknown template variable(s): {names}; available: {choices}")
    return None


class CompiledTemplate:
    """A subject and body compiled once and rendered for many recipients."""

    def __init__(self, *, subject: str, body: str) -> None:
        self._subject = _environment.from_string(subject)
        self._body = _environment.from_string(body)

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
