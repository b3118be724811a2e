#!/usr/bin/env bash
# Vendors GOV.UK Frontend (MIT) into src/web/assets/, without the GOV.UK brand: its CSS compiled
# from its Sass with the system font stack instead of GDS Transport (no font files shipped, no
# @font-face), its JavaScript as published, no crown, crest or GOV.UK icons. The binary embeds
# and serves these files itself. Run it to move to another version:
#   bash scripts/vendor-govuk-frontend.sh [version]      (default: the one in VERSION below)
# Needs node and npm; the build of the service never does.
set -euo pipefail
VERSION=${1:-6.6.0}
SASS=1.108.2
cd "$(dirname "$0")/.."
OUT=src/web/assets
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
( cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "govuk-frontend@$VERSION" "sass@$SASS" )
cat > "$work/office.scss" <<'SCSS'
// The office is not GOV.UK: the system's own fonts, no GDS Transport, no font files.
@use "pkg:govuk-frontend" with (
  $govuk-font-family: (system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", arial, sans-serif),
  $govuk-include-default-font-face: false,
  $govuk-assets-path: "/assets/"
);
SCSS
mkdir -p "$OUT"
( cd "$work" && npx sass --pkg-importer=node --style=compressed --no-source-map --quiet office.scss out.css )
# The footer's copyright crest is the royal arms: never drawn here (nothing to load).
sed 's#url("/assets/images/govuk-crest.svg")#none#g' "$work/out.css" > "$OUT/govuk-frontend.min.css"
cp "$work/node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js" "$OUT/govuk-frontend.min.js"
if grep -q "GDS Transport\|url(" "$OUT/govuk-frontend.min.css"; then
  echo "the compiled CSS still names GDS Transport or loads a file:" >&2
  grep -o "GDS Transport\|url([^)]*)" "$OUT/govuk-frontend.min.css" | sort | uniq -c >&2
  exit 1
fi
cat > "$OUT/VENDORED.md" <<MD
# Vendored: GOV.UK Frontend $VERSION

- Source: the \`govuk-frontend\` package, version $VERSION, from the npm registry.
- Licence: MIT ("Unless stated otherwise, the codebase is released under the MIT License";
  copyright (c) Crown Copyright, Government Digital Service). The documentation is Crown
  copyright under the Open Government Licence v3.0; none of it is copied here.
- \`govuk-frontend.min.css\`: compiled from its Sass with sass $SASS by
  \`scripts/vendor-govuk-frontend.sh\`, with the system font stack in place of GDS Transport
  and no \`@font-face\` (the office is not GOV.UK: no GOV.UK fonts, crown, crest or icons;
  the footer's crest image is replaced by \`none\`).
- \`govuk-frontend.min.js\`: \`dist/govuk/govuk-frontend.min.js\` as published.
- Update: \`bash scripts/vendor-govuk-frontend.sh <version>\`, then run the tests.
MD
echo "vendored GOV.UK Frontend $VERSION: $(wc -c < "$OUT/govuk-frontend.min.css") bytes of CSS, $(wc -c < "$OUT/govuk-frontend.min.js") of JavaScript"
