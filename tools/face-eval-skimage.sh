#!/usr/bin/env bash
# photo-face-eval over Debian's python3-skimage pictures (installed by
# scripts/setup.sh): two faces (astronaut, cameraman) and pictures without
# any (a cat, coffee, a rocket, textures, text, cells...), so that false faces
# show. Usage: tools/face-eval-skimage.sh [BUILD_DIR] [photo-face-eval args...]
set -euo pipefail
build=${1:-build/release}
shift || true
data=/usr/lib/python3/dist-packages/skimage/data
manifest=$(mktemp --suffix=.json)
trap 'rm -f "$manifest"' EXIT
python3 - "$data" >"$manifest" <<'PY'
import json, os, sys
data = sys.argv[1]
faces = {"astronaut.png": 1, "camera.png": 1}
files = sorted(f for f in os.listdir(data)
               if f.endswith((".png", ".jpg")) and f not in ("truncated.jpg", "foo3x5x4indexed.png"))
print(json.dumps([{"file": f, "faces": faces.get(f, 0), "faces_tolerance": 0} for f in files]))
PY
exec "$build/src/photo/detect/photo-face-eval" --images "$data" --manifest "$manifest" "$@"
