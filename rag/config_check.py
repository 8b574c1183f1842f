"""Settings from the environment, with any problem told in one line that names the variable.

pydantic-settings ignores an unknown section (`RAG_APII__PORT`) and reports a bad value by the
setting's path (`api.port`) or, for JSON values, by its section only. These helpers name the
`RAG_*` variable instead and suggest the closest valid name.
"""

from __future__ import annotations

import difflib
import json
import os
import types
import typing
from collections.abc import Mapping

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import SettingsError

from rag.config import Settings, get_settings
from rag.errors import ConfigurationError

PREFIX = "RAG_"
DELIMITER = "__"
# RAG_ variables that are not settings of this tree: the UI's own and scripts/run.sh's.
OTHER_PREFIXES = ("RAG_UI_", "RAG_RUN_")
COMPLEX = (tuple, list, dict, set, frozenset)


def variable(location: tuple[str | int, ...]) -> str:
    return PREFIX + DELIMITER.join(str(part).upper() for part in location)


def sections() -> dict[str, type[BaseModel]]:
    sections: dict[str, type[BaseModel]] = {}
    for name, field in Settings.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            sections[name] = field.annotation
    return sections


def known_variables() -> list[str]:
    return [
        variable((section, name))
        for section, model in sections().items()
        for name in model.model_fields
    ]


def did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, known_variables(), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """RAG_ variables that name no section (pydantic-settings would ignore them silently)."""
    known = sections()
    problems = []
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name.startswith(OTHER_PREFIXES):
            continue
        section, delimiter, _ = name[len(PREFIX) :].lower().partition(DELIMITER)
        if not delimiter or section not in known:
            problems.append(f"{name}: unknown setting{did_you_mean(name)}")
    return problems


def describe_validation(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        name = variable(item["loc"])
        if item["type"] == "extra_forbidden":
            problems.append(f"{name}: unknown setting{did_you_mean(name)}")
        elif is_secret(item["loc"]):
            problems.append(f"{name}: {item['msg']}")  # never echo a secret
        else:
            problems.append(f"{name}: {item['msg']} (got {item.get('input')!r})")
    return problems


def is_secret(location: tuple[str | int, ...]) -> bool:
    model = sections().get(str(location[0]))
    field = model.model_fields.get(str(location[1])) if model and len(location) > 1 else None
    return field is not None and SecretStr in (field.annotation, *typing.get_args(field.annotation))


def is_complex(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(is_complex(arg) for arg in typing.get_args(annotation))
    return origin in COMPLEX or annotation in COMPLEX


def describe_unparsable(environ: Mapping[str, str]) -> list[str]:
    """The variables whose setting takes JSON but whose value is not JSON."""
    problems = []
    for section, model in sections().items():
        for name, field in model.model_fields.items():
            value = environ.get(variable((section, name)))
            if value is None or not is_complex(field.annotation):
                continue
            try:
                json.loads(value)
            except ValueError as exc:
                problems.append(
                    f"{variable((section, name))}: not valid JSON ({exc}); "
                    f'write a JSON list, e.g. ["http://localhost:3000"]'
                )
    return problems


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """get_settings(), or a ConfigurationError that names each bad variable on one line."""
    environ = os.environ if environ is None else environ
    problems = unknown_variables(environ)
    if not problems:
        try:
            return get_settings()
        except ValidationError as exc:
            problems = describe_validation(exc)
        except SettingsError as exc:
            problems = describe_unparsable(environ) or [str(exc)]
    raise ConfigurationError("; ".join(problems))
