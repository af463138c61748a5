"""Template checks for csv.<column> variables, and rendering with a CSV row."""

from __future__ import annotations

import pytest

from shared.templating import CompiledTemplate, CsvValues, TemplateRenderError, check_template, csv_columns_used


@pytest.mark.parametrize(
    "source",
    [
        "{{ csv.department }}",
        "{{ csv['department'] }}",
        "{{ csv.department | upper }} {{ csv.team }}",
        "{% if csv.team %}{{ csv.team }}{% endif %}",
        "{% set csv = {'x': 1} %}{{ csv.x }}",
    ],
)
def test_csv_columns_accepted(source):
    assert check_template(source, csv_columns=["department", "team"]) is None


def test_csv_without_list_rejected():
    problem = check_template("Hi {{ csv.department }}")

    assert problem is not None
    assert problem.message == "csv.department needs a CSV recipient list; upload one to the campaign first"


def test_unknown_csv_column_rejected():
    problem = check_template("{{ csv.team }} {{ csv.floor }}", csv_columns=["team", "department"])

    assert problem is not None
    assert problem.message == "unknown CSV column(s): csv.floor; the campaign's CSV list has: csv.department, csv.team"


@pytest.mark.parametrize("source", ["{{ csv }}", "{{ csv[name] }}", "{% for k in csv %}{{ k }}{% endfor %}"])
def test_other_csv_use_rejected(source):
    problem = check_template(source, allowed={"first_name", "name"}, csv_columns=["team"])

    assert problem is not None
    assert "one column at a time" in problem.message


def test_unknown_variable_lists_csv_columns():
    problem = check_template("{{ nickname }}", csv_columns=["team"])

    assert problem is not None
    assert problem.message.startswith("unknown template variable(s): nickname; available: ")
    assert problem.message.endswith("last_name, csv.team")


def test_columns_used():
    assert csv_columns_used("{{ csv.a }} {{ csv['b'] }} {{ first_name }}") == {"a", "b"}
    assert csv_columns_used("{{ first_name }}") == frozenset()
    assert csv_columns_used("{% if %}") == frozenset()


def test_render_reads_column_named_like_dict_method():
    template = CompiledTemplate(subject="{{ csv.items }}", body="{{ csv['keys'] }} {{ first_name }}")

    assert template.uses_csv is True
    assert template.render({"first_name": "Ada", "csv": CsvValues(items="3", keys="7")}) == ("3", "7 Ada")


def test_render_missing_column_raises():
    template = CompiledTemplate(subject="", body="{{ csv.team }}")

    with pytest.raises(TemplateRenderError):
        template.render({"csv": CsvValues()})


def test_template_without_csv():
    assert CompiledTemplate(subject="Hi", body="{{ first_name }}").uses_csv is False
