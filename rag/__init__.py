"""Online side of the service: settings, embedding, stored index, retrieval, answers, API, CLI."""

__version__ = "0.1.0"
