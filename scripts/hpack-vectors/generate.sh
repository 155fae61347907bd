#!/usr/bin/env bash
# Regenerates the committed HPACK vectors under test/protocols/http2/vectors/ with two encoders no one
# in this project wrote: PyPI hpack (in .local/python, installed by scripts/setup) and Go's
# golang.org/x/net/http2/hpack (fetched by `go` from the Go module proxy). Not run by the tests.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/test/protocols/http2/vectors"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/.local/python/bin/python" "$here/generate.py" "$out" "$tmp"
(cd "$here" && gofmt -l . && go run . "$out" "$tmp")
echo "hpack vectors written to $out"
