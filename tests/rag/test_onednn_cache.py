"""Importing the package bounds oneDNN's cache of compiled kernels, unless the user set it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SHOW = "import rag, os; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"


@pytest.mark.parametrize(("given", "expected"), [(None, "8"), ("64", "64")])
def test_the_primitive_cache_is_bounded_unless_set(given: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    if given is not None:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = given
    shown = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == expected, shown.stderr
