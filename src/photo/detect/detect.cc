// Placeholder until the detect module lands.
