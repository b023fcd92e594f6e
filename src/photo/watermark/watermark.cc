// Placeholder until the watermark module lands.
