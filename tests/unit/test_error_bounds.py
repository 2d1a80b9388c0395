"""An error never echoes an unbounded amount of its input: it keeps the first fields and says
how many it left out."""

from __future__ import annotations

from mindo_core.domain.errors import (
    MAX_FIELD_ERRORS,
    MAX_FIELD_NAME_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_PROBLEM_CHARS,
    MAX_PROBLEMS_PER_FIELD,
    InvalidRequest,
)


def test_a_short_error_is_kept_as_it_is() -> None:
    error = InvalidRequest("name: is required", field_errors={"name": ["is required"]})

    assert (error.message, error.field_errors) == ("name: is required", {"name": ["is required"]})


def test_fields_beyond_the_limit_are_counted_not_listed() -> None:
    fields = {f"variables.v{i}": ["is unknown"] for i in range(10_000)}

    error = InvalidRequest("10,000 unknown variables", field_errors=fields)

    assert list(error.field_errors) == [f"variables.v{i}" for i in range(MAX_FIELD_ERRORS)]
    assert error.message == "10,000 unknown variables (9,900 more fields with problems)"


def test_long_names_problems_and_messages_are_cut_with_what_was_cut() -> None:
    problems = ["x" * 10_000] * (MAX_PROBLEMS_PER_FIELD + 3)

    error = InvalidRequest("m" * 100_000, field_errors={"n" * 10_000: problems})

    ((name, listed),) = error.field_errors.items()
    assert len(name) <= MAX_FIELD_NAME_CHARS
    assert all(len(problem) <= MAX_PROBLEM_CHARS for problem in listed)
    assert listed[-1] == "and 3 more problems"
    assert len(error.message) <= MAX_MESSAGE_CHARS
    assert error.message.endswith("more characters)")
