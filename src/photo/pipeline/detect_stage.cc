#include "photo/pipeline/detect_stage.h"

// Placeholder until the detect stage lands.
