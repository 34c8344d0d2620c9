#!/usr/bin/env bash
# `cargo doc` with the math rendered by KaTeX, as on docs.rs: every page gets
# docs/katex-header.html (KaTeX from jsDelivr, pinned with SRI hashes) through rustdoc's
# --html-in-header. Arguments go to cargo doc:
#
#   scripts/doc-katex.sh --open
#   scripts/doc-katex.sh --all-features --document-private-items
#
# Offline, point KATEX_BASE at a local copy of KaTeX's dist/ folder (never committed):
#
#   (cd /tmp && npm pack katex@0.16.47 && tar xzf katex-0.16.47.tgz)
#   KATEX_BASE=/tmp/package/dist scripts/doc-katex.sh
#
# KATEX_BASE may also be a URL (http://…/dist). The SRI attributes are dropped for it.
set -euo pipefail
cd "$(dirname "$0")/.."

header="$PWD/docs/katex-header.html"
if [ -n "${KATEX_BASE:-}" ]; then
    base="${KATEX_BASE%/}"
    case "$base" in
        *://*) ;;
        *)
            [ -f "$base/katex.min.js" ] || {
                echo "error: KATEX_BASE=$KATEX_BASE has no katex.min.js (give KaTeX's dist/ folder)" >&2
                exit 2
            }
            base="file://$(cd "$base" && pwd)"
            ;;
    esac
    local_header="$(mktemp "${TMPDIR:-/tmp}/katex-header.XXXXXX.html")"
    trap 'rm -f "$local_header"' EXIT
    sed -e "s#https://cdn.jsdelivr.net/npm/katex@[0-9.]*/dist#$base#g" \
        -e 's# integrity="[^"]*" crossorigin="anonymous"##' "$header" >"$local_header"
    header="$local_header"
fi

RUSTDOCFLAGS="${RUSTDOCFLAGS:-} --html-in-header $header" cargo doc --workspace --no-deps "$@"
