#include "photo/pipeline/resize_stage.h"

// Placeholder until the resize stage lands.
