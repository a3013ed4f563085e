#!/usr/bin/env bash
# Device check for the Hugging Face path (not run in CI: it needs a GPU, transformers, accelerate
# and peft). Starts a local control plane with `npm run serve`, then trains the same PEFT LoRA
# Llama with the plain Trainer on all data and with InfoBatchTrainer, and prints one JSON line per
# arm: wall seconds, tokens trained, tokens/s, held-out loss.
#
#   adapters/hf/device_check.sh                 # random "small" Llama, 4,096 synthetic examples
#   SIZE=medium EPOCHS=4 adapters/hf/device_check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
PORT=${PORT:-8791}
SIZE=${SIZE:-small}
EPOCHS=${EPOCHS:-4}
WORK=$(mktemp -d)

"$PYTHON" - <<'PY'
import torch, transformers, peft, accelerate
assert torch.cuda.is_available(), "no CUDA device visible"
print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
      f"accelerate {accelerate.__version__}, {torch.cuda.get_device_name(0)}")
PY

# Its own process group, so that stopping it stops npm and the node server under it.
setsid npm run --silent serve -- --port "$PORT" --database "$WORK/runs.db" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill -- -"$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$PYTHON" - "$PORT" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/healthz"
for _ in range(300):
    try:
        urllib.request.urlopen(url, timeout=1).read()
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit(f"the control plane did not answer at {url}")
PY

export PYTHONPATH="adapters/hf${PYTHONPATH:+:$PYTHONPATH}"
for MODE in full infobatch; do
  "$PYTHON" adapters/hf/examples/hf_trainer.py --mode "$MODE" --server "http://127.0.0.1:$PORT" \
    --size "$SIZE" --epochs "$EPOCHS"
done
