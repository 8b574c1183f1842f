#!/usr/bin/env bash
# Set up, index the seeds (only if they changed), then run the API and the UI until Ctrl-C.
# Ports: RAG_API_PORT (default 8000) and RAG_UI_PORT (default 8501), both on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

api_port=${RAG_API_PORT:-8000}
ui_port=${RAG_UI_PORT:-8501}

scripts/setup.sh
.venv/bin/rag index seeds --out data/index

.venv/bin/rag serve --index data/index --host 127.0.0.1 --port "$api_port" &
api_pid=$!
trap 'kill $api_pid ${ui_pid:-} 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$api_port/health" >/dev/null 2>&1 && break
    sleep 0.5
done

RAG_UI_API_URL="http://127.0.0.1:$api_port" .venv/bin/streamlit run ui/app.py \
    --server.address 127.0.0.1 --server.port "$ui_port" --server.headless true \
    --browser.gatherUsageStats false >/dev/null &
ui_pid=$!

echo
echo "API: http://127.0.0.1:$api_port   (OpenAPI docs: http://127.0.0.1:$api_port/docs)"
echo "UI:  http://127.0.0.1:$ui_port"
echo "Ctrl-C stops both."
wait
