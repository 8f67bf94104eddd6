#!/usr/bin/env bash
# Install the workspace's front-end libraries (Cytoscape.js, ECharts, the Natural Earth world
# outline) from the npm registry into src/moneytrail/web/ui/static/vendor, so the web
# application serves them itself and nothing is fetched from the internet at run time.
# Versions are pinned in scripts/web_assets/package-lock.json; `make install` calls this and it
# does nothing when the vendor folder already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

SPEC=scripts/web_assets
BUILD=build/web-assets
VENDOR=src/moneytrail/web/ui/static/vendor
STAMP=$VENDOR/.package-lock.json

if [ -f "$STAMP" ] && cmp -s "$SPEC/package-lock.json" "$STAMP"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "web_assets: npm not found; install Node.js and npm (apt-get install -y nodejs npm), then run make install again" >&2
  exit 2
fi

mkdir -p "$BUILD"
cp "$SPEC/package.json" "$SPEC/package-lock.json" "$BUILD/"
(cd "$BUILD" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
mods=$BUILD/node_modules

tmp=$VENDOR.tmp
rm -rf "$tmp"
mkdir -p "$tmp/licenses"
cp "$mods/cytoscape/dist/cytoscape.esm.min.mjs" "$tmp/cytoscape.esm.min.js"
cp "$mods/echarts/dist/echarts.esm.min.js" "$tmp/echarts.esm.min.js"
# The world outline as GeoJSON, converted once here so the browser needs no TopoJSON client.
# Coordinates are rounded to 0.01 degree (about 1 km), which a world map cannot show anyway.
node "$mods/topojson-client/bin/topo2geo" -i "$mods/world-atlas/countries-110m.json" \
  "countries=$BUILD/world-110m.geojson"
node -e 'const fs = require("fs");
  const g = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  fs.writeFileSync(process.argv[2],
    JSON.stringify(g, (k, v) => (typeof v === "number" ? Math.round(v * 100) / 100 : v)));' \
  "$BUILD/world-110m.geojson" "$tmp/world-110m.geojson"
for pkg in cytoscape echarts topojson-client world-atlas; do
  cp "$mods/$pkg/LICENSE" "$tmp/licenses/$pkg-LICENSE"
done
cp "$SPEC/package-lock.json" "$tmp/.package-lock.json"

rm -rf "$VENDOR"
mv "$tmp" "$VENDOR"
echo "web_assets: installed $(find "$VENDOR" -maxdepth 1 -type f -name '*.js*' | wc -l) files into $VENDOR"
