"""Streamlit UI for the consultation-submission RAG service. Talks to the HTTP API only."""
