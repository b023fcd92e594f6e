// Test-only: every quantised DCT coefficient of a JPEG, read with libjpeg
// independently of the code under test, and the block-by-block comparison
// the DCT-domain edits are checked with.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "photo/image/types.h"

namespace photo::image::testing {

struct JpegCoefficients {
  int width = 0, height = 0;
  struct Component {
    int columns = 0, rows = 0;   // blocks that hold pixels
    int foot_w = 8, foot_h = 8;  // image pixels one block covers (16 for 4:2:0 chroma)
    std::array<unsigned short, 64> quant{};
    std::vector<std::array<short, 64>> blocks;  // row-major
    const std::array<short, 64>& at(int col, int row) const;
    // Does block (col, row) cover any pixel of `box`?
    bool Overlaps(int col, int row, const Box& box) const;
  };
  std::vector<Component> components;
  bool progressive = false;
  int restart_interval = 0;  // in MCUs; 0 = no restart markers
  int warnings = 0;          // libjpeg's (corrupt data, restart markers out of sequence)
};

// Aborts the test process on a JPEG that libjpeg cannot read (a fixture bug).
JpegCoefficients ReadJpegCoefficients(const std::string& jpeg);

struct BlockDiff {
  int changed = 0;          // blocks whose coefficients differ
  int changed_outside = 0;  // of those, blocks that do not overlap the box
  bool same_layout = true;  // sizes, components, block grids and quantisation tables
};
// Compares every block of `a` and `b`; an empty box counts every change as outside.
BlockDiff CompareBlocks(const JpegCoefficients& a, const JpegCoefficients& b, const Box& box);

}  // namespace photo::image::testing
