#!/usr/bin/env bash
# Regenerates data/watermark/logo.png, the default watermark that photo-pipeline
# embeds into its binary (src/photo/watermark/CMakeLists.txt turns the PNG into
# a byte array at configure time, so re-run cmake after changing it).
#
# The logo is an RGBA PNG: a "lens" mark (a ring and a dot) and the
# "photo-pipeline" wordmark in white at ~85% alpha, on a translucent dark
# rounded panel (~45% alpha). White-on-dark keeps it readable on light photos
# (the panel darkens what is behind it) and on dark ones (the white carries).
# It is drawn large (about 900 px wide) so the 2560 px rendition, where the
# default size puts it at ~512 px, only ever downscales it.
#
# Needs: libvips-tools (vips, vipsheader, built with librsvg for svgload) and
# fonts-dejavu-core. Usage: tools/make-watermark.sh [OUT.png]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../data/watermark/logo.png}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

height=180            # panel height
radius=36             # panel corner radius
pad=44                # space left of the mark and right of the wordmark
mark_cx=$((pad + 60)) # lens mark centre
mark_r=54
gap=36                # between the mark and the wordmark
text_alpha=0.85
panel_alpha=0.45

# 1. The wordmark as an 8-bit coverage mask (pango + DejaVu Sans Bold).
vips text "$tmp/mask.v" "photo-pipeline" --font "DejaVu Sans Bold 66" --dpi 72
tw=$(vipsheader -f width "$tmp/mask.v")
th=$(vipsheader -f height "$tmp/mask.v")
text_x=$((mark_cx + mark_r + gap))
width=$((text_x + tw + pad))
text_y=$(((height - th) / 2))

# 2. Panel and mark as vector shapes, rasterised by vips' svgload.
cat >"$tmp/panel.svg" <<SVG
<svg xmlns="http://www.w3.org/2000/svg" width="$width" height="$height">
  <rect x="0" y="0" width="$width" height="$height" rx="$radius" ry="$radius"
        fill="#000000" fill-opacity="$panel_alpha"/>
  <circle cx="$mark_cx" cy="$((height / 2))" r="$((mark_r - 7))" fill="none"
          stroke="#ffffff" stroke-opacity="$text_alpha" stroke-width="14"/>
  <circle cx="$mark_cx" cy="$((height / 2))" r="18" fill="#ffffff" fill-opacity="$text_alpha"/>
</svg>
SVG
vips svgload "$tmp/panel.svg" "$tmp/panel.v"

# 3. White wordmark: RGB = 255, alpha = coverage * text_alpha.
vips linear "$tmp/mask.v" "$tmp/alpha.v" "$text_alpha" 0 --uchar
vips linear "$tmp/mask.v" "$tmp/white.v" 0 255 --uchar
vips bandjoin "$tmp/white.v $tmp/white.v $tmp/white.v $tmp/alpha.v" "$tmp/word.v"
vips copy "$tmp/word.v" "$tmp/word_srgb.v" --interpretation srgb

# 4. Wordmark over the panel, back to 8-bit RGBA, saved without metadata.
vips composite2 "$tmp/panel.v" "$tmp/word_srgb.v" "$tmp/logo.v" over --x "$text_x" --y "$text_y"
vips cast "$tmp/logo.v" "$tmp/logo8.v" uchar
mkdir -p "$(dirname "$out")"
vips pngsave "$tmp/logo8.v" "$out" --compression 9 --strip
echo "wrote $out ($(vipsheader -f width "$out")x$(vipsheader -f height "$out"), $(vipsheader -f bands "$out") bands, $(stat -c %s "$out") bytes)"
