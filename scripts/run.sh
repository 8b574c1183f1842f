#!/usr/bin/env bash
# Set up, index the seeds (only if they changed), then run the API and the UI until Ctrl-C.
#
# Settings (environment):
#   RAG_API__HOST, RAG_API__PORT  where the API listens (default 127.0.0.1:8000), as for `rag serve`
#   RAG_INDEX__PATH               the index to build and serve (default data/index)
#   RAG_UI_PORT                   where the UI listens (default 8501, always on 127.0.0.1)
#   RAG_RUN_SKIP_SETUP=1          skip scripts/setup.sh and `rag index` (an existing .venv and index)
#   RAG_RUN_STARTUP_S             how long each server may take to answer (default 180 s)
#
# Stops with an error (exit 1) if a port is taken or a server does not start; Ctrl-C, or either
# server stopping, stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

api_host=${RAG_API__HOST:-127.0.0.1}
api_port=${RAG_API__PORT:-8000}
ui_port=${RAG_UI_PORT:-8501}
index=${RAG_INDEX__PATH:-data/index}
startup_s=${RAG_RUN_STARTUP_S:-180}
api_pid=""
ui_pid=""
body=$(mktemp)

fail() {
    echo "run.sh: $*" >&2
    exit 1
}

stop_servers() {
    local pid
    for pid in $ui_pid $api_pid; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $ui_pid $api_pid; do
        wait "$pid" 2>/dev/null || true
    done
    rm -f "$body"
}
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port is free if we can bind it ourselves (what the server will do next).
port_is_free() {
    .venv/bin/python - "$1" "$2" <<'EOF' 2>/dev/null
import socket, sys
with socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(sys.argv[2])))
EOF
}

require_free_port() {  # what, host, port, variable
    port_is_free "$2" "$3" \
        || fail "$1 port $3 on $2 is already in use (another server?). Stop it or choose another port with $4=..."
}

# Waits until `url` answers 200 (its body in $body) while `pid` lives.
wait_ready() {  # what, pid, url
    local status
    for _ in $(seq 1 $((startup_s * 2))); do
        kill -0 "$2" 2>/dev/null || fail "$1 stopped during startup; see its messages above."
        status=$(curl -s -o "$body" -w '%{http_code}' "$3" 2>/dev/null || true)
        [[ $status == 200 ]] && return 0
        [[ $status == 503 ]] && fail "$1 started but has no usable index: $(cat "$body")"
        sleep 0.5
    done
    fail "$1 did not answer $3 within ${startup_s} s."
}

skip_setup=${RAG_RUN_SKIP_SETUP:-0}
[[ $skip_setup == 1 ]] || scripts/setup.sh
[[ -x .venv/bin/python ]] || fail "no .venv here; run scripts/setup.sh first."
require_free_port API "$api_host" "$api_port" RAG_API__PORT
require_free_port UI 127.0.0.1 "$ui_port" RAG_UI_PORT
[[ $skip_setup == 1 ]] || .venv/bin/rag index seeds --out "$index"

.venv/bin/rag serve --index "$index" --host "$api_host" --port "$api_port" &
api_pid=$!
# The UI reaches the API over loopback whatever address the API listens on.
case $api_host in
    0.0.0.0 | "::" | 127.*) api_url="http://127.0.0.1:$api_port" ;;
    *:*) api_url="http://[$api_host]:$api_port" ;;
    *) api_url="http://$api_host:$api_port" ;;
esac
wait_ready "the API (rag serve)" "$api_pid" "$api_url/health"
# The port was free before we started, our process is alive and answers with our health fields.
grep -q '"index_built_at"' "$body" || fail "$api_url/health is not this API's: $(cat "$body")"

RAG_UI_API_URL="$api_url" .venv/bin/streamlit run ui/app.py \
    --server.address 127.0.0.1 --server.port "$ui_port" --server.headless true \
    --browser.gatherUsageStats false >/dev/null &
ui_pid=$!
wait_ready "the UI (streamlit)" "$ui_pid" "http://127.0.0.1:$ui_port/_stcore/health" >/dev/null

echo
echo "API: $api_url   (OpenAPI docs: $api_url/docs)"
echo "UI:  http://127.0.0.1:$ui_port"
echo "Ctrl-C stops both."
status=0
wait -n "$api_pid" "$ui_pid" || status=$?
fail "a server stopped (exit $status); stopping the other."
