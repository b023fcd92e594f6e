#!/usr/bin/env bash
# Places the face-detection model under models/ (placeholder, filled below).
set -euo pipefail
exit 0
