#include "photo/pipeline/watermark_stage.h"

// Placeholder until the watermark stage lands.
