#!/bin/sh
# Bring the environment up and run a smoke test. harness runs this at every wake.
set -eu
python3 --version
python3 -c "import todo" 2>/dev/null || echo "todo module not written yet"
