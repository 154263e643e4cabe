#!/usr/bin/env bash
# Run the evaluation and training benchmarks (1-2) and the matmul roofline on a CUDA machine.
# Training: every GPU row in this one call (3-layer and DistilBERT-size students, our loop,
# sentence-transformers, each throughput switch of the loop as a ratio to the plain loop).
#
#   PYTHONPATH=src bash benchmarks/gpu_bench.sh --model /path/all-MiniLM-L6-v2 \
#       --senteval-root /path/senteval [--corpus /path/wiki1m.txt] [--repeats 3] \
#       [--big-model /path/bert-base-size-model]
#
# Evaluation rows (bench_eval.py, all 7 sets): ours (precision auto), ours_fp32, ours_bf16, st,
# st_bf16, ours_cached for --model; with --big-model (>= 100 M params) the same for it, which
# re-measures precision "auto"'s switch (AUTO_BF16_MIN_PARAMS in evaluate/encoders.py: float32
# below, bf16 autocast above). The evaluation rows run first and alone (EVAL_ONLY=1 stops there).
#
# Needs torch + transformers + sentence-transformers + scipy + datasets; not snakemake and not
# the bundled-model wheel. Results: $OUT/bench/*.json when $OUT is set, else results/bench/;
# a combined log in the same folder. Without --corpus (or if it is missing) the training
# benchmark uses the STS-B train sentences as its corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="" SENTEVAL="" CORPUS="" REPEATS=3 STEPS=50 BIG_MODEL=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --senteval-root) SENTEVAL="$2"; shift 2 ;;
    --corpus) CORPUS="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --big-model) BIG_MODEL="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -d "$MODEL" ]] || { echo "--model DIR is required (got '$MODEL')" >&2; exit 2; }
[[ -d "$SENTEVAL" ]] || { echo "--senteval-root DIR is required (got '$SENTEVAL')" >&2; exit 2; }
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
DEST="${OUT:+$OUT/bench}"; DEST="${DEST:-results/bench}"
mkdir -p "$DEST"
LOG="$DEST/gpu_bench.log"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$LOG"
python -c "import torch, transformers, sentence_transformers as s; print('torch', torch.__version__, 'transformers', transformers.__version__, 'sentence-transformers', s.__version__)" | tee -a "$LOG"
python benchmarks/bench_eval.py --device cuda --model "$MODEL" --senteval-root "$SENTEVAL" \
  --repeats "$REPEATS" --out "$DEST/bench_eval_cuda.json" 2>&1 | grep -v -i "warn" | tee -a "$LOG" \
  || echo "bench_eval failed or disagreed (exit $?); continuing" | tee -a "$LOG"
if [[ -n "$BIG_MODEL" ]]; then
  python benchmarks/bench_eval.py --device cuda --model "$BIG_MODEL" --senteval-root "$SENTEVAL" \
    --repeats "$REPEATS" --out "$DEST/bench_eval_cuda_big.json" 2>&1 | grep -v -i "warn" \
    | tee -a "$LOG" || echo "bench_eval (big model) failed (exit $?); continuing" | tee -a "$LOG"
fi
if [[ "${EVAL_ONLY:-0}" == 1 ]]; then echo "results in $DEST" | tee -a "$LOG"; exit 0; fi
# every GPU training row: the 3-layer student (vs sentence-transformers, and each throughput
# switch) and a DistilBERT-size random student (our loop and its switches), batch 64 x 32 tokens
python benchmarks/bench_train.py --device cuda --model "$MODEL" --senteval-root "$SENTEVAL" \
  ${CORPUS:+--corpus "$CORPUS"} --repeats "$REPEATS" --steps "$STEPS" --warmup-steps 5 \
  --batch-size 64 --max-length 32 \
  --out "$DEST/bench_train_cuda.json" 2>&1 | grep -v -i "warn" | tee -a "$LOG" \
  || echo "bench_train failed (exit $?)" | tee -a "$LOG"
python benchmarks/bench_train.py --device cuda --model "$MODEL" --senteval-root "$SENTEVAL" \
  ${CORPUS:+--corpus "$CORPUS"} --repeats "$REPEATS" --steps "$STEPS" --warmup-steps 5 \
  --batch-size 64 --max-length 32 --student distilbert \
  --arms ours_pad8,ours_bucket,ours_fused,ours_compile,ours_cudagraphs,ours_all \
  --out "$DEST/bench_train_distilbert_cuda.json" 2>&1 | grep -v -i "warn" | tee -a "$LOG" \
  || echo "bench_train (distilbert) failed (exit $?)" | tee -a "$LOG"
python benchmarks/bench_roofline.py --device cuda --model "$MODEL" --senteval-root "$SENTEVAL" \
  ${CORPUS:+--corpus "$CORPUS"} --out "$DEST/bench_roofline_cuda.json" 2>&1 \
  | grep -v -i "warn" | tee -a "$LOG" || echo "bench_roofline failed (exit $?)" | tee -a "$LOG"
echo "results in $DEST" | tee -a "$LOG"
