#!/usr/bin/env bash
# The CPU measurements as reported (about 30 min on 2 quiet cores), in one go:
# waits up to WAIT_S (default 1200) for a 1-minute load average < 1.5, then runs each
# benchmark once with modest repeats. Results: results/bench/*.json (+ scaling PNG/PDF).
#   bash benchmarks/cpu_suite.sh            # from the repo root, venv active
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
SENTEVAL="${SENTEVAL:-../shared/data/senteval}"
mkdir -p results/bench
PYTHONPATH=benchmarks python -c "from harness import wait_for_quiet as w; print('load wait:', w(max_wait_s=${WAIT_S:-1200}))"
python benchmarks/bench_cpu_precision.py --device cpu --senteval-root "$SENTEVAL" --n-sentences 300 --repeats 3
python benchmarks/bench_train.py --device cpu --senteval-root "$SENTEVAL" --repeats 3 --steps 20
python benchmarks/bench_eval.py --device cpu --senteval-root "$SENTEVAL" --repeats "${EVAL_REPEATS:-3}"
python benchmarks/bench_roofline.py --device cpu --senteval-root "$SENTEVAL"
rm -rf results/bench/minilm-int8
python -m distilface.evaluate.int8 --model bundled:all-MiniLM-L6-v2 --out results/bench/minilm-int8 \
  --report results/bench/bench_quantize_cpu.json --senteval-root "$SENTEVAL"
python benchmarks/bench_scaling.py --device cpu --senteval-root "$SENTEVAL"
