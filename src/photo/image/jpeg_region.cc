#include "photo/image/jpeg_region.h"

// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

#include "photo/core/text.h"

namespace photo::image {
namespace {

using EditFn = std::function<Status(const RgbRegion&)>;

// libjpeg reports fatal errors through error_exit, which must not return.
// libjpeg-turbo is built with unwind tables, so an exception thrown here
// unwinds through its frames to our RAII wrappers (no setjmp, no leaks).
struct JpegError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ErrorManager {
  jpeg_error_mgr mgr{};
  std::string first_warning;  // damaged data shows up as warnings, not errors
};

[[noreturn]] void ThrowJpegError(j_common_ptr cinfo) {
  char message[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, message);
  throw JpegError(message);
}

void RecordWarning(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (errors->mgr.num_warnings++ == 0) {
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    errors->first_warning = message;
  }
}

void InstallErrors(ErrorManager& errors) {
  jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = ThrowJpegError;
  errors.mgr.emit_message = RecordWarning;
}

struct Decompressor {
  explicit Decompressor(std::string_view bytes) {
    InstallErrors(errors);
    cinfo.err = &errors.mgr;
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
                 static_cast<unsigned long>(bytes.size()));
    try {
      jpeg_read_header(&cinfo, TRUE);
    } catch (...) {
      jpeg_destroy_decompress(&cinfo);  // the destructor does not run for a throwing constructor
      throw;
    }
  }
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // The coefficients, or JpegError when the entropy data was damaged.
  jvirt_barray_ptr* ReadCoefficients() {
    jvirt_barray_ptr* arrays = jpeg_read_coefficients(&cinfo);
    if (errors.mgr.num_warnings > 0) throw JpegError(errors.first_warning);
    return arrays;
  }

  ErrorManager errors;
  jpeg_decompress_struct cinfo{};
};

// Writes into a malloc'ed buffer that libjpeg grows as needed.
struct Compressor {
  Compressor() {
    InstallErrors(errors);
    cinfo.err = &errors.mgr;
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &size);
  }
  ~Compressor() {
    jpeg_destroy_compress(&cinfo);
    std::free(buffer);
  }
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  std::string Bytes() const { return {reinterpret_cast<const char*>(buffer), size}; }

  // Compresses interleaved RGB rows (cinfo set up by the caller) and returns
  // the file.
  std::string CompressRgb(const std::uint8_t* rgb) {
    jpeg_start_compress(&cinfo, TRUE);
    const size_t stride = static_cast<size_t>(cinfo.image_width) * 3;
    while (cinfo.next_scanline < cinfo.image_height) {
      auto row = const_cast<JSAMPROW>(rgb + stride * cinfo.next_scanline);
      jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    return Bytes();
  }

  ErrorManager errors;
  jpeg_compress_struct cinfo{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
};

bool Editable(const jpeg_decompress_struct& c) {
  if (c.data_precision != 8 || c.num_components != 3 || c.jpeg_color_space != JCS_YCbCr) {
    return false;
  }
  // Every component's block must cover a whole number of pixels.
  for (int i = 0; i < 3; ++i) {
    const jpeg_component_info& comp = c.comp_info[i];
    if (c.max_h_samp_factor % comp.h_samp_factor != 0 ||
        c.max_v_samp_factor % comp.v_samp_factor != 0) {
      return false;
    }
  }
  return true;
}

// Pixels (of the full-resolution image) covered by one block of a component.
struct Footprint {
  int width, height;
};
Footprint BlockFootprint(const jpeg_decompress_struct& c, int component) {
  const jpeg_component_info& comp = c.comp_info[component];
  return {DCTSIZE * c.max_h_samp_factor / comp.h_samp_factor,
          DCTSIZE * c.max_v_samp_factor / comp.v_samp_factor};
}

// Block-array dimensions libjpeg uses for a component of a w x h image:
// blocks that hold pixels, rounded up to whole MCUs.
struct BlockGrid {
  JDIMENSION columns, rows;
};
long DivRoundUp(long a, long b) { return (a + b - 1) / b; }
long RoundUp(long a, long b) { return DivRoundUp(a, b) * b; }

BlockGrid GridFor(const jpeg_decompress_struct& c, int component, int width, int height) {
  const jpeg_component_info& comp = c.comp_info[component];
  const long cols = DivRoundUp(static_cast<long>(width) * comp.h_samp_factor,
                               static_cast<long>(c.max_h_samp_factor) * DCTSIZE);
  const long rows = DivRoundUp(static_cast<long>(height) * comp.v_samp_factor,
                               static_cast<long>(c.max_v_samp_factor) * DCTSIZE);
  return {static_cast<JDIMENSION>(RoundUp(cols, comp.h_samp_factor)),
          static_cast<JDIMENSION>(RoundUp(rows, comp.v_samp_factor))};
}

BlockGrid GridOf(const jpeg_decompress_struct& c, int component) {
  return GridFor(c, component, static_cast<int>(c.image_width), static_cast<int>(c.image_height));
}

// A JPEG of the region's pixels, made from the source's own coefficients
// (nothing is re-quantised): decoding it gives the region as a full decode
// would, away from the region's edges.
std::string RegionFromCoefficients(jpeg_decompress_struct& src, jvirt_barray_ptr* src_arrays,
                                   const RgbRegion& r) {
  Compressor dst;
  jpeg_copy_critical_parameters(&src, &dst.cinfo);
  dst.cinfo.image_width = static_cast<JDIMENSION>(r.width);
  dst.cinfo.image_height = static_cast<JDIMENSION>(r.height);
  jvirt_barray_ptr arrays[3];
  BlockGrid grids[3];
  for (int c = 0; c < 3; ++c) {
    grids[c] = GridFor(src, c, r.width, r.height);
    arrays[c] = (*dst.cinfo.mem->request_virt_barray)(
        reinterpret_cast<j_common_ptr>(&dst.cinfo), JPOOL_IMAGE, TRUE, grids[c].columns,
        grids[c].rows, static_cast<JDIMENSION>(dst.cinfo.comp_info[c].v_samp_factor));
  }
  jpeg_write_coefficients(&dst.cinfo, arrays);  // realizes the arrays; writes at finish
  for (int c = 0; c < 3; ++c) {
    const Footprint f = BlockFootprint(src, c);
    const BlockGrid full = GridOf(src, c);
    const JDIMENSION ox = static_cast<JDIMENSION>(r.x / f.width);
    const JDIMENSION oy = static_cast<JDIMENSION>(r.y / f.height);
    for (JDIMENSION by = 0; by < grids[c].rows; ++by) {
      JBLOCKARRAY out = (*dst.cinfo.mem->access_virt_barray)(
          reinterpret_cast<j_common_ptr>(&dst.cinfo), arrays[c], by, 1, TRUE);
      if (oy + by >= full.rows) {
        std::memset(out[0], 0, sizeof(JBLOCK) * grids[c].columns);
        continue;
      }
      JBLOCKARRAY in = (*src.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&src),
                                                      src_arrays[c], oy + by, 1, FALSE);
      const JDIMENSION n = std::min(grids[c].columns, full.columns - ox);
      std::memcpy(out[0], in[0] + ox, sizeof(JBLOCK) * n);
      if (n < grids[c].columns) std::memset(out[0] + n, 0, sizeof(JBLOCK) * (grids[c].columns - n));
    }
  }
  jpeg_finish_compress(&dst.cinfo);
  return dst.Bytes();
}

std::vector<std::uint8_t> DecodeRgb(std::string_view jpeg) {
  Decompressor d(jpeg);
  d.cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&d.cinfo);
  const size_t stride = static_cast<size_t>(d.cinfo.output_width) * 3;
  std::vector<std::uint8_t> rgb(stride * d.cinfo.output_height);
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    JSAMPROW row = rgb.data() + stride * d.cinfo.output_scanline;
    jpeg_read_scanlines(&d.cinfo, &row, 1);
  }
  jpeg_finish_decompress(&d.cinfo);
  if (d.errors.mgr.num_warnings > 0) throw JpegError(d.errors.first_warning);
  return rgb;
}

// Encodes pixels with the source's quantisation tables and sampling, so the
// blocks come out as the source's encoder would have made them.
std::string EncodeLike(jpeg_decompress_struct& src, const std::uint8_t* rgb, int width,
                       int height) {
  Compressor dst;
  jpeg_copy_critical_parameters(&src, &dst.cinfo);
  dst.cinfo.image_width = static_cast<JDIMENSION>(width);
  dst.cinfo.image_height = static_cast<JDIMENSION>(height);
  dst.cinfo.in_color_space = JCS_RGB;
  dst.cinfo.input_components = 3;
  return dst.CompressRgb(rgb);
}

bool Changed(const std::vector<std::uint8_t>& before, const std::vector<std::uint8_t>& after,
             int stride, int x0, int y0, int x1, int y1) {
  for (int y = y0; y < y1; ++y) {
    const size_t at =
        static_cast<size_t>(y) * static_cast<size_t>(stride) + static_cast<size_t>(x0) * 3;
    if (std::memcmp(before.data() + at, after.data() + at, static_cast<size_t>(x1 - x0) * 3) != 0) {
      return true;
    }
  }
  return false;
}

// Copies the re-encoded blocks whose pixels changed into the source arrays.
void PutBackChangedBlocks(jpeg_decompress_struct& src, jvirt_barray_ptr* src_arrays,
                          jpeg_decompress_struct& edited, jvirt_barray_ptr* edited_arrays,
                          const RgbRegion& r, const Box& box,
                          const std::vector<std::uint8_t>& before,
                          const std::vector<std::uint8_t>& after) {
  // The box in region coordinates.
  const int bx0 = box.x - r.x, by0 = box.y - r.y;
  const int bx1 = bx0 + box.width, by1 = by0 + box.height;
  for (int c = 0; c < 3; ++c) {
    const Footprint f = BlockFootprint(src, c);
    const BlockGrid full = GridOf(src, c);
    const BlockGrid local = GridOf(edited, c);
    const int ox = r.x / f.width, oy = r.y / f.height;
    // Only blocks that overlap the box can have changed.
    const int first_col = bx0 / f.width, last_col = (bx1 - 1) / f.width;
    const int first_row = by0 / f.height, last_row = (by1 - 1) / f.height;
    for (int row = first_row; row <= last_row; ++row) {
      if (static_cast<JDIMENSION>(row) >= local.rows ||
          static_cast<JDIMENSION>(oy + row) >= full.rows) {
        break;
      }
      JBLOCKARRAY in = nullptr;
      JBLOCKARRAY out = nullptr;
      for (int col = first_col; col <= last_col; ++col) {
        if (static_cast<JDIMENSION>(col) >= local.columns ||
            static_cast<JDIMENSION>(ox + col) >= full.columns) {
          break;
        }
        const int x0 = col * f.width, y0 = row * f.height;
        const int x1 = std::min(x0 + f.width, r.width), y1 = std::min(y0 + f.height, r.height);
        if (x0 >= x1 || y0 >= y1 || !Changed(before, after, r.width * 3, x0, y0, x1, y1)) {
          continue;
        }
        if (in == nullptr) {
          in = (*edited.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&edited),
                                                 edited_arrays[c], static_cast<JDIMENSION>(row), 1,
                                                 FALSE);
          out = (*src.mem->access_virt_barray)(reinterpret_cast<j_common_ptr>(&src), src_arrays[c],
                                               static_cast<JDIMENSION>(oy + row), 1, TRUE);
        }
        std::memcpy(out[0][ox + col], in[0][col], sizeof(JBLOCK));
      }
    }
  }
}

Status Corrupt(const std::string& what) {
  return InvalidArgumentError("corrupt_image", "jpeg: " + what);
}

// The whole-file edit: every block's coefficients are read; the region
// around the box is decoded, edited and re-encoded; changed blocks go back.
Result<std::string> EditWhole(Decompressor& src, const Box& box, const EditFn& edit,
                              const RegionEditOptions& options) {
  const int width = static_cast<int>(src.cinfo.image_width);
  const int height = static_cast<int>(src.cinfo.image_height);
  jvirt_barray_ptr* arrays = src.ReadCoefficients();
  if (box.width > 0 && box.height > 0) {
    // MCU-aligned, one MCU of context on every side (clipped to the image).
    const int mw = DCTSIZE * src.cinfo.max_h_samp_factor;
    const int mh = DCTSIZE * src.cinfo.max_v_samp_factor;
    RgbRegion region;
    region.x = std::max(0, (box.x / mw - 1) * mw);
    region.y = std::max(0, (box.y / mh - 1) * mh);
    region.width = std::min(width, ((box.x + box.width + mw - 1) / mw + 1) * mw) - region.x;
    region.height = std::min(height, ((box.y + box.height + mh - 1) / mh + 1) * mh) - region.y;

    const std::vector<std::uint8_t> before =
        DecodeRgb(RegionFromCoefficients(src.cinfo, arrays, region));
    std::vector<std::uint8_t> after = before;
    region.pixels = after.data();
    RETURN_IF_ERROR(edit(region));

    const std::string reencoded = EncodeLike(src.cinfo, after.data(), region.width, region.height);
    Decompressor edited(reencoded);  // reads from `reencoded`, which must outlive it
    jvirt_barray_ptr* edited_arrays = edited.ReadCoefficients();
    PutBackChangedBlocks(src.cinfo, arrays, edited.cinfo, edited_arrays, region, box, before,
                         after);
  }
  Compressor out;
  jpeg_copy_critical_parameters(&src.cinfo, &out.cinfo);
  out.cinfo.optimize_coding = options.optimize_coding ? TRUE : FALSE;
  out.cinfo.restart_interval = src.cinfo.restart_interval;
  jpeg_write_coefficients(&out.cinfo, arrays);
  jpeg_finish_compress(&out.cinfo);
  return out.Bytes();
}

// ---------------------------------------------------------------------------
// Row splicing. With a restart marker after every MCU row, each row's
// entropy-coded segment decodes on its own (the DC predictions restart), so
// rows away from the box can be copied as bytes.

int Be16(std::string_view b, size_t at) {
  return static_cast<unsigned char>(b[at]) << 8 | static_cast<unsigned char>(b[at + 1]);
}

struct Scan {
  size_t header_end = 0;                   // just past the SOS segment
  std::vector<std::string_view> segments;  // entropy-coded data between RSTn markers
};

// nullopt unless the file is one scan whose entropy data holds only RSTn
// markers before EOI (a baseline file; progressive ones have several scans).
std::optional<Scan> SplitScan(std::string_view b) {
  Scan scan;
  size_t pos = 2;  // after SOI
  while (scan.header_end == 0) {
    if (pos + 4 > b.size() || static_cast<unsigned char>(b[pos]) != 0xFF) return std::nullopt;
    const auto marker = static_cast<unsigned char>(b[pos + 1]);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    const size_t end = pos + 2 + static_cast<size_t>(Be16(b, pos + 2));
    if (end > b.size()) return std::nullopt;
    if (marker == 0xDA) scan.header_end = end;
    pos = end;
  }
  size_t start = pos;
  while (true) {
    const void* hit = std::memchr(b.data() + pos, 0xFF, b.size() - pos);
    if (hit == nullptr) return std::nullopt;
    pos = static_cast<size_t>(static_cast<const char*>(hit) - b.data());
    if (pos + 1 >= b.size()) return std::nullopt;
    const auto next = static_cast<unsigned char>(b[pos + 1]);
    if (next == 0x00 || next == 0xFF) {  // stuffed 0xFF, or fill before a marker
      pos += next == 0x00 ? 2 : 1;
      continue;
    }
    if (next != 0xD9 && (next < 0xD0 || next > 0xD7)) return std::nullopt;
    scan.segments.push_back(b.substr(start, pos - start));
    if (next == 0xD9) return scan;
    pos += 2;
    start = pos;
  }
}

// The header with metadata (APP1..15, COM) dropped and the frame height set.
std::string HeaderWithHeight(std::string_view b, size_t header_end, int height) {
  std::string out(b.substr(0, 2));
  for (size_t pos = 2; pos < header_end;) {
    const auto marker = static_cast<unsigned char>(b[pos + 1]);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    const size_t end = pos + 2 + static_cast<size_t>(Be16(b, pos + 2));
    const bool metadata = (marker >= 0xE1 && marker <= 0xEF) || marker == 0xFE;
    if (!metadata) {
      const size_t at = out.size();
      out.append(b.substr(pos, end - pos));
      if (marker == 0xC0 || marker == 0xC1) {
        out[at + 5] = static_cast<char>((height >> 8) & 0xFF);
        out[at + 6] = static_cast<char>(height & 0xFF);
      }
    }
    pos = end;
  }
  return out;
}

// The DQT and DHT segments, in order: entropy-coded rows may be moved from
// one file to the other only when these are the same.
std::string Tables(std::string_view b, size_t header_end) {
  std::string out;
  for (size_t pos = 2; pos < header_end;) {
    const auto marker = static_cast<unsigned char>(b[pos + 1]);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    const size_t end = pos + 2 + static_cast<size_t>(Be16(b, pos + 2));
    if (marker == 0xDB || marker == 0xC4) out.append(b.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

void AppendRows(std::string& out, const std::vector<std::string_view>& rows) {
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) {
      out.push_back(static_cast<char>(0xFF));
      out.push_back(static_cast<char>(0xD0 + (i - 1) % 8));
    }
    out.append(rows[i]);
  }
  out.push_back(static_cast<char>(0xFF));
  out.push_back(static_cast<char>(0xD9));
}

// nullopt: the file is not laid out for splicing (callers take EditWhole).
std::optional<Result<std::string>> EditRows(const jpeg_decompress_struct& c, std::string_view jpeg,
                                            const Box& box, const EditFn& edit) {
  const int width = static_cast<int>(c.image_width);
  const int height = static_cast<int>(c.image_height);
  const int mw = DCTSIZE * c.max_h_samp_factor;
  const int mh = DCTSIZE * c.max_v_samp_factor;
  const int rows = static_cast<int>(DivRoundUp(height, mh));
  if (c.progressive_mode || c.arith_code || c.comps_in_scan != c.num_components ||
      c.restart_interval != static_cast<unsigned>(DivRoundUp(width, mw))) {
    return std::nullopt;
  }
  const std::optional<Scan> scan = SplitScan(jpeg);
  if (!scan || scan->segments.size() != static_cast<size_t>(rows)) return std::nullopt;
  // The rows under the box and one of context above and below.
  const int r0 = std::max(0, box.y / mh - 1);
  const int r1 = std::min(rows - 1, (box.y + box.height - 1) / mh + 1);
  const int y0 = r0 * mh;
  const int strip_height = std::min(height, (r1 + 1) * mh) - y0;
  const std::vector<std::string_view> strip_rows(scan->segments.begin() + r0,
                                                 scan->segments.begin() + r1 + 1);
  std::string strip = HeaderWithHeight(jpeg, scan->header_end, strip_height);
  AppendRows(strip, strip_rows);

  Box strip_box = box;
  strip_box.y -= y0;
  const EditFn in_image = [&](const RgbRegion& r) {
    RgbRegion shifted = r;
    shifted.y += y0;
    return edit(shifted);
  };
  Decompressor strip_src(strip);
  Result<std::string> edited = EditWhole(strip_src, strip_box, in_image, {});
  if (!edited.ok()) return edited;
  const std::optional<Scan> edited_scan = SplitScan(*edited);
  if (!edited_scan || edited_scan->segments.size() != strip_rows.size() ||
      Tables(jpeg, scan->header_end) != Tables(*edited, edited_scan->header_end)) {
    return std::nullopt;  // not the standard tables: the copied rows would not decode
  }
  std::vector<std::string_view> all = scan->segments;
  std::copy(edited_scan->segments.begin(), edited_scan->segments.end(), all.begin() + r0);
  std::string out = HeaderWithHeight(*edited, edited_scan->header_end, height);
  AppendRows(out, all);
  return out;
}

}  // namespace

std::optional<JpegLayout> EditableJpegLayout(std::string_view jpeg) {
  try {
    Decompressor d(jpeg);
    if (!Editable(d.cinfo)) return std::nullopt;
    JpegLayout layout;
    layout.width = static_cast<int>(d.cinfo.image_width);
    layout.height = static_cast<int>(d.cinfo.image_height);
    layout.components = d.cinfo.num_components;
    layout.mcu_width = DCTSIZE * d.cinfo.max_h_samp_factor;
    layout.mcu_height = DCTSIZE * d.cinfo.max_v_samp_factor;
    return layout;
  } catch (const JpegError&) {
    return std::nullopt;
  }
}

std::string EncodeJpegRowRestarts(const std::uint8_t* rgb, int width, int height, int quality) {
  Compressor c;
  c.cinfo.image_width = static_cast<JDIMENSION>(width);
  c.cinfo.image_height = static_cast<JDIMENSION>(height);
  c.cinfo.input_components = 3;
  c.cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c.cinfo);
  jpeg_set_quality(&c.cinfo, quality, TRUE);
  if (quality >= 90) {  // 4:4:4, as libvips chooses at Q >= 90; the defaults are 4:2:0
    c.cinfo.comp_info[0].h_samp_factor = 1;
    c.cinfo.comp_info[0].v_samp_factor = 1;
  }
  c.cinfo.restart_in_rows = 1;
  return c.CompressRgb(rgb);
}

Result<std::string> EditJpegRegion(std::string_view jpeg, const Box& box, const EditFn& edit,
                                   const RegionEditOptions& options) {
  try {
    Decompressor src(jpeg);
    if (!Editable(src.cinfo)) {
      return InvalidArgumentError("unsupported_jpeg",
                                  "only 8-bit 3-component YCbCr JPEGs are edited in place");
    }
    const int width = static_cast<int>(src.cinfo.image_width);
    const int height = static_cast<int>(src.cinfo.image_height);
    const bool empty = box.width <= 0 || box.height <= 0;
    if (!empty &&
        (box.x < 0 || box.y < 0 || box.x + box.width > width || box.y + box.height > height)) {
      return InvalidArgumentError("bad_region", "edit box lies outside the image");
    }
    if (!empty && !options.optimize_coding) {
      if (std::optional<Result<std::string>> rows = EditRows(src.cinfo, jpeg, box, edit)) {
        return *std::move(rows);
      }
    }
    return EditWhole(src, box, edit, options);
  } catch (const JpegError& e) {
    return Corrupt(BoundedErrorText(e.what()));
  } catch (const std::bad_alloc&) {
    return InternalError("internal", "out of memory while editing a jpeg");
  }
}

}  // namespace photo::image
