#!/usr/bin/env bash
# Regenerates src/gen/ from proto/ with ts-proto. With --check, fails when the
# committed generated code differs from what the protos produce.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
out=src/gen
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
rm -rf "${out:?}"/oneiric "${out:?}"/grpc
mkdir -p "$out"
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,forceLong=number,env=node,useOptionals=none,outputJsonMethods=true \
  -I proto \
  $(find proto -name '*.proto' | sort)
if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$out" src/gen >/dev/null; then
    diff -r "$out" src/gen | head -40 >&2
    echo "src/gen is stale: run npm run gen and commit the result" >&2
    exit 1
  fi
  echo "src/gen is up to date"
fi
