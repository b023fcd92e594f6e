// Synthetic benchmark inputs, built in-process once per size and cached.
#pragma once

#include <string>

namespace photo::bench {

// A grainy photo-like JPEG (4:2:0, Q90, like a phone camera's) of about
// `megapixels` MP at 4:3: 1 -> 1155x866, 12 -> 4000x3000, 50 -> 8165x6124.
const std::string& CameraJpeg(int megapixels);

// Width and height CameraJpeg uses.
void CameraSize(int megapixels, int* width, int* height);

}  // namespace photo::bench
