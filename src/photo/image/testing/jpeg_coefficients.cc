#include "photo/image/testing/jpeg_coefficients.h"

// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace photo::image::testing {
namespace {

[[noreturn]] void Abort(j_common_ptr cinfo) {
  (*cinfo->err->output_message)(cinfo);
  std::abort();
}

}  // namespace

const std::array<short, 64>& JpegCoefficients::Component::at(int col, int row) const {
  return blocks[static_cast<size_t>(row) * static_cast<size_t>(columns) + static_cast<size_t>(col)];
}

bool JpegCoefficients::Component::Overlaps(int col, int row, const Box& b) const {
  const int x0 = col * foot_w, y0 = row * foot_h;
  return b.width > 0 && b.height > 0 && x0 < b.x + b.width && b.x < x0 + foot_w &&
         y0 < b.y + b.height && b.y < y0 + foot_h;
}

JpegCoefficients ReadJpegCoefficients(const std::string& jpeg) {
  jpeg_decompress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  err.error_exit = Abort;
  jpeg_create_decompress(&c);
  jpeg_mem_src(&c, reinterpret_cast<const unsigned char*>(jpeg.data()),
               static_cast<unsigned long>(jpeg.size()));
  jpeg_read_header(&c, TRUE);
  jvirt_barray_ptr* arrays = jpeg_read_coefficients(&c);
  JpegCoefficients out;
  out.width = static_cast<int>(c.image_width);
  out.height = static_cast<int>(c.image_height);
  out.progressive = c.progressive_mode != 0;
  out.restart_interval = static_cast<int>(c.restart_interval);
  for (int i = 0; i < c.num_components; ++i) {
    const jpeg_component_info& comp = c.comp_info[i];
    JpegCoefficients::Component k;
    k.columns = static_cast<int>(comp.width_in_blocks);
    k.rows = static_cast<int>(comp.height_in_blocks);
    k.foot_w = DCTSIZE * c.max_h_samp_factor / comp.h_samp_factor;
    k.foot_h = DCTSIZE * c.max_v_samp_factor / comp.v_samp_factor;
    for (int q = 0; q < 64; ++q) k.quant[static_cast<size_t>(q)] = comp.quant_table->quantval[q];
    for (int row = 0; row < k.rows; ++row) {
      JBLOCKARRAY b = (*c.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&c), arrays[i],
                                                   static_cast<JDIMENSION>(row), 1, FALSE);
      for (int col = 0; col < k.columns; ++col) {
        std::array<short, 64> block{};
        std::memcpy(block.data(), b[0][col], sizeof(JBLOCK));
        k.blocks.push_back(block);
      }
    }
    out.components.push_back(std::move(k));
  }
  jpeg_finish_decompress(&c);
  out.warnings = static_cast<int>(err.num_warnings);
  jpeg_destroy_decompress(&c);
  return out;
}

BlockDiff CompareBlocks(const JpegCoefficients& a, const JpegCoefficients& b, const Box& box) {
  BlockDiff d;
  if (a.width != b.width || a.height != b.height || a.components.size() != b.components.size()) {
    d.same_layout = false;
    return d;
  }
  for (size_t i = 0; i < a.components.size(); ++i) {
    const auto& x = a.components[i];
    const auto& y = b.components[i];
    if (x.quant != y.quant || x.columns != y.columns || x.rows != y.rows) {
      d.same_layout = false;
      return d;
    }
    for (int row = 0; row < x.rows; ++row) {
      for (int col = 0; col < x.columns; ++col) {
        if (x.at(col, row) == y.at(col, row)) continue;
        ++d.changed;
        if (!x.Overlaps(col, row, box)) ++d.changed_outside;
      }
    }
  }
  return d;
}

}  // namespace photo::image::testing
