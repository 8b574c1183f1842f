"""Offline evaluation: the question set, gold locating, pure metric functions, runner, report."""
