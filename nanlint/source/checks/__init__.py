"""Every static check: one module per rule or small family, named after its code.

A module defines `StaticRule` subclasses; they are collected here, so adding a rule is
adding a module and its `rules/NANxxx.md` document (a test fails if either is missing).
"""
from __future__ import annotations

import importlib
import pkgutil

from nanlint.source.rule import StaticRule


def _collect() -> tuple[type[StaticRule], ...]:
    found: list[type[StaticRule]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, StaticRule) and value is not StaticRule:
                if value.__module__ == module.__name__:
                    found.append(value)
    return tuple(found)


ALL_RULES: tuple[type[StaticRule], ...] = _collect()
