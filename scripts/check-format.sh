#!/usr/bin/env bash
# Fails (exit 1) if any tracked Swift file is not as swift-format (the toolchain's, with the
# project's .swift-format: line length 120) would write it; lists the files. `.ci/run` runs it.
# Fix with: swift format -i --configuration .swift-format $(git ls-files '*.swift')
set -euo pipefail
cd "$(dirname "$0")/.."
if ! swift format --version >/dev/null 2>&1; then
  echo "check-format: 'swift format' is not available in this toolchain" >&2
  exit 2
fi
bad=()
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
while IFS= read -r f; do
  swift format --configuration .swift-format "$f" > "$tmp"
  cmp -s "$tmp" "$f" || bad+=("$f")
done < <(git ls-files '*.swift' | grep -v '^Tests/Fixtures/')
if [ ${#bad[@]} -gt 0 ]; then
  printf 'check-format: not formatted:\n' >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: $(git ls-files '*.swift' | grep -vc '^Tests/Fixtures/') files formatted"
