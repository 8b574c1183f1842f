"""The `rag` command line. It sits above rag/, indexer/ and eval/ and may import all of them;
rag/ never imports it (tests/test_layers.py)."""
