"""UI settings, read from `RAG_UI_*` environment variables.

Example: `RAG_UI_API_URL=http://127.0.0.1:8080 streamlit run ui/app.py`.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.contract import MAX_K

DEFAULT_API_URL = "http://127.0.0.1:8000"


class UiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_UI_", extra="forbid", frozen=True)

    api_url: str = Field(DEFAULT_API_URL, description="Base URL of the RAG HTTP API.")
    timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for one API call.")
    export_timeout_s: float = Field(
        170.0,
        gt=0,
        description="Seconds to wait for a download (the API makes one at a time; the browser "
        "gives a download button 180 s).",
    )
    k: int | None = Field(
        None, ge=1, le=MAX_K, description="Passages /ask should consider; None: the API's default."
    )


def get_settings() -> UiSettings:
    """Settings read afresh on every call, so a changed environment takes effect at once."""
    return UiSettings()
