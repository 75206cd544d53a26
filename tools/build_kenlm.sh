#!/usr/bin/env bash
# Builds KenLM's command-line programs (lmplz, build_binary, query) from the kenlm sdist, for the
# tests that compare our LM estimator and binary reader with KenLM's own. The wheel ships none.
# Needs cmake, a C++ compiler and Boost (program_options, system, thread); zlib is optional.
# Usage: tools/build_kenlm.sh [OUT_DIR]   (default build/kenlm; programs land in OUT_DIR/bin)
set -euo pipefail
OUT=$(realpath -m "${1:-build/kenlm}")
PY=${PY:-.venv/bin/python}
VERSION=${KENLM_VERSION:-0.3.0}
if [ -x "$OUT/bin/lmplz" ] && [ -x "$OUT/bin/build_binary" ]; then
  echo "KenLM programs already in $OUT/bin"; exit 0
fi
command -v cmake >/dev/null || { echo "build_kenlm: cmake not found" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" -m pip download -q --no-binary :all: --no-deps --no-build-isolation -d "$WORK" \
  "kenlm==$VERSION" >/dev/null
tar -xzf "$WORK"/kenlm-*.tar.gz -C "$WORK"
SRC=$(ls -d "$WORK"/kenlm-*/)
mkdir -p "$WORK/build" "$OUT/bin"
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release > "$WORK/cmake.log" 2>&1 \
  || { tail -20 "$WORK/cmake.log" >&2; exit 1; }
cmake --build "$WORK/build" -j "$(nproc)" --target lmplz build_binary query \
  > "$WORK/make.log" 2>&1 || { grep -E -A5 'error' "$WORK/make.log" | head -40 >&2; exit 1; }
cp "$WORK/build/bin/lmplz" "$WORK/build/bin/build_binary" "$WORK/build/bin/query" "$OUT/bin/"
echo "built KenLM $VERSION programs in $OUT/bin"
