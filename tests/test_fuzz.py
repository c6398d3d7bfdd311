"""Property tests: whatever Python (or non-Python) nanlint reads, it never raises.

A few hundred inputs per run, within CI's time budget; `python bench/fuzz.py` runs
10,000 and more with the same strategies (tests/fuzzing.py).
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.fuzzing import (
    check_bytes,
    check_notebook,
    check_python,
    deep_expressions,
    mutated_bytes,
    mutated_sources,
    notebooks,
    programs,
)

_FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@settings(_FUZZ, max_examples=120)
@given(programs)
def test_generated_programs(source):
    check_python(source)


@settings(_FUZZ, max_examples=60)
@given(deep_expressions())
def test_deeply_nested_expressions(source):
    check_python(source)


@settings(_FUZZ, max_examples=300)
@given(mutated_sources())
def test_mutated_repository_files(source):
    check_python(source, fix=True)


@settings(_FUZZ, max_examples=150)
@given(mutated_bytes())
def test_mutated_files_as_bytes(data):
    check_bytes(data)


@settings(_FUZZ, max_examples=100)
@given(notebooks())
def test_notebooks(text):
    check_notebook(text)
