// Writes the seed corpora of the fuzz targets (docs/FUZZING.md):
//
//   fuzz_make_corpus <probe_dir> <multipart_dir>
//
// Seeds are made here, from photo::image_testing's synthesised images, so no
// binary corpus is committed. Deterministic: the same build writes the same
// bytes. Probe seeds stay under 256 KiB and multipart seeds under 64 KiB (the
// -max_len scripts/fuzz.sh passes).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vips/vips8>

#include "photo/image/testing/synth.h"
#include "photo/image/vips.h"

namespace {

namespace fs = std::filesystem;
namespace synth = photo::image::testing;

void Write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz_make_corpus: cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

std::string Photo(synth::SynthFormat format, int w = 64, int h = 48) {
  synth::SynthOptions o;
  o.width = w;
  o.height = h;
  o.format = format;
  o.quality = 75;
  return synth::MakePhoto(o);
}

// The JPEG without its APP2 (ICC profile) segments. MakeCmykJpeg embeds
// libvips' ~1 MB CMYK profile, far over -max_len; without it the decoder
// takes the "CMYK without a profile" path instead (resize.h).
std::string StripIcc(const std::string& jpeg) {
  if (jpeg.size() < 4 || jpeg.compare(0, 2, "\xff\xd8") != 0) return jpeg;
  std::string out = jpeg.substr(0, 2);
  size_t pos = 2;
  while (pos + 4 <= jpeg.size() && static_cast<unsigned char>(jpeg[pos]) == 0xff) {
    const auto marker = static_cast<unsigned char>(jpeg[pos + 1]);
    if (marker == 0xda) break;  // start of scan: the rest is entropy-coded data
    const size_t len = (static_cast<unsigned char>(jpeg[pos + 2]) << 8) |
                       static_cast<unsigned char>(jpeg[pos + 3]);
    if (marker != 0xe2) out.append(jpeg, pos, len + 2);
    pos += len + 2;
  }
  out.append(jpeg, std::min(pos, jpeg.size()), std::string::npos);
  return out;
}

// A JPEG tagged with libvips' built-in sRGB profile (a few KiB): the
// decoder's ICC transform path, which the profile-less seeds never reach.
std::string JpegWithSrgbProfile(const std::string& jpeg) {
  VipsBlob* profile = nullptr;
  if (vips_profile_load("srgb", &profile, nullptr) != 0 || profile == nullptr) {
    std::fprintf(stderr, "fuzz_make_corpus: no built-in sRGB profile: %s\n", vips_error_buffer());
    std::exit(1);
  }
  size_t len = 0;
  const void* data = vips_blob_get(profile, &len);
  vips::VImage img = vips::VImage::new_from_buffer(jpeg.data(), jpeg.size(), "");
  img = img.copy();  // a private header to attach the profile to
  vips_image_set_blob_copy(img.get_image(), VIPS_META_ICC_NAME, data, len);
  VipsBlob* out = img.jpegsave_buffer(vips::VImage::option()->set("Q", 75));
  size_t out_len = 0;
  const void* out_data = vips_blob_get(out, &out_len);
  std::string bytes(static_cast<const char*>(out_data), out_len);
  vips_area_unref(VIPS_AREA(out));
  vips_area_unref(VIPS_AREA(profile));
  return bytes;
}

void ProbeSeeds(const fs::path& dir) {
  using F = synth::SynthFormat;
  Write(dir, "jpeg", Photo(F::kJpeg));
  Write(dir, "jpeg_444_large", [] {
    synth::SynthOptions o;
    o.width = 320;
    o.height = 200;
    o.subsample = false;
    o.gps = true;
    o.camera = true;
    return synth::MakePhoto(o);
  }());
  Write(dir, "png", Photo(F::kPng));
  Write(dir, "webp", Photo(F::kWebp));
  Write(dir, "gif", Photo(F::kGif));
  Write(dir, "tiff", Photo(F::kTiff));
  Write(dir, "heif", Photo(F::kHeif));
  Write(dir, "avif", Photo(F::kAvif));
  for (int o = 2; o <= 8; o += 3)
    Write(dir, "jpeg_orientation_" + std::to_string(o), synth::MakeOrientedJpeg(o, 48, 32));
  Write(dir, "jpeg_cmyk_no_icc", StripIcc(synth::MakeCmykJpeg(48, 32)));
  Write(dir, "jpeg_grey", synth::MakeGreyJpeg(48, 32));
  Write(dir, "jpeg_srgb_icc", JpegWithSrgbProfile(Photo(F::kJpeg)));
  Write(dir, "png_rgb16", synth::MakePng16(48, 32));
  Write(dir, "png_grey16", synth::MakePng16(48, 32, true));
  Write(dir, "png_rgba", synth::MakeRgbaPng(48, 32));
  Write(dir, "webp_rgba", synth::MakeRgbaWebp(48, 32));
  Write(dir, "gif_animated", synth::MakeAnimatedGif(32, 24, 3));
  Write(dir, "gif_too_many_frames", synth::MakeAnimatedGif(4, 4, 20));  // fuzz_probe allows 16
  Write(dir, "jpeg_truncated", synth::TruncatedJpeg(0.5));
  Write(dir, "png_header_bomb", synth::PngHeaderOnly());
  Write(dir, "png_header_small", synth::PngHeaderOnly(64, 48));
  Write(dir, "svg_script", synth::SvgBytes());
  Write(dir, "pdf", synth::PdfBytes());
  Write(dir, "polyglot_jpeg_html_zip", synth::PolyglotJpegHtmlZip());
  Write(dir, "text", synth::TextBytes());
  Write(dir, "empty", synth::EmptyBytes());
}

// --- multipart bodies (boundary XyZ unless a mode byte says otherwise) ------

constexpr char kB[] = "XyZ";

std::string FilePart(const std::string& content, const std::string& filename = "photo.jpg",
                     const std::string& type = "image/jpeg", const std::string& boundary = kB) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" +
         filename + "\"\r\nContent-Type: " + type + "\r\n\r\n" + content + "\r\n";
}

std::string FieldPart(const std::string& name, const std::string& value,
                      const std::string& boundary = kB) {
  return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" +
         value + "\r\n";
}

std::string End(const std::string& boundary = kB) { return "--" + boundary + "--\r\n"; }

void MultipartSeeds(const fs::path& dir) {
  using F = synth::SynthFormat;
  const std::string jpeg = Photo(F::kJpeg, 48, 32);

  // Well-formed uploads of every accepted format (202).
  Write(dir, "ok_jpeg", FilePart(jpeg) + End());
  Write(dir, "ok_png", FilePart(Photo(F::kPng, 48, 32), "a.png", "image/png") + End());
  Write(dir, "ok_webp", FilePart(Photo(F::kWebp, 48, 32), "a.webp", "image/webp") + End());
  Write(dir, "ok_gif", FilePart(synth::MakeAnimatedGif(16, 12, 2), "a.gif", "image/gif") + End());
  Write(dir, "ok_tiff", FilePart(Photo(F::kTiff, 32, 24), "a.tif", "image/tiff") + End());
  Write(dir, "ok_cmyk", FilePart(StripIcc(synth::MakeCmykJpeg(32, 24))) + End());
  Write(dir, "ok_oriented", FilePart(synth::MakeOrientedJpeg(6, 48, 32)) + End());
  Write(dir, "ok_field_then_file", FieldPart("note", "hello") + FilePart(jpeg) + End());
  Write(dir, "ok_no_part_type",
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + jpeg + "\r\n" + End());
  Write(dir, "ok_preamble_epilogue", "preamble text\r\n" + FilePart(jpeg) + End() + "epilogue");

  // Refusals the API must classify (400 / 413 / 415).
  Write(dir, "no_file_field", FieldPart("note", "hello") + End());
  Write(dir, "two_files", FilePart(jpeg) + FilePart(jpeg, "b.jpg") + End());
  Write(dir, "missing_end_boundary", FilePart(jpeg));
  Write(dir, "missing_all_boundaries", jpeg);
  Write(dir, "empty_body", "");
  Write(dir, "empty_file", FilePart("") + End());
  Write(dir, "huge_part_headers",
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nX-Pad: " +
            std::string(8 * 1024, 'a') + "\r\n\r\n" + jpeg + "\r\n" + End());
  Write(dir, "filename_traversal", FilePart(jpeg, "../../../../etc/passwd") + End());
  Write(dir, "filename_control_chars",
        FilePart(jpeg, std::string("a\x01\x1b[31m\x7f.jpg")) + End());
  static constexpr char kNulName[] = "..\\..\\x\0y.jpg";
  Write(dir, "filename_backslash_nul",
        FilePart(jpeg, std::string(kNulName, sizeof kNulName - 1)) + End());
  Write(dir, "lf_only_lines",
        "--XyZ\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\n\n" + jpeg +
            "\n--XyZ--\n");
  Write(dir, "svg", FilePart(synth::SvgBytes(), "a.svg", "image/svg+xml") + End());
  Write(dir, "polyglot", FilePart(synth::PolyglotJpegHtmlZip()) + End());
  Write(dir, "truncated_jpeg", FilePart(synth::TruncatedJpeg(0.5)) + End());
  Write(dir, "png_header_bomb", FilePart(synth::PngHeaderOnly(), "bomb.png", "image/png") + End());
  Write(dir, "pdf", FilePart(synth::PdfBytes(), "a.pdf", "application/pdf") + End());
  Write(dir, "text", FilePart(synth::TextBytes(), "a.txt", "text/plain") + End());
  // Over limits.max_bytes (32 KiB in the harness) but under the body cap.
  Write(dir, "file_over_limit", FilePart(std::string(36 * 1024, 'x')) + End());
  // Over the body cap (40 KiB): cpp-httplib refuses on Content-Length.
  Write(dir, "body_over_limit", FilePart(std::string(48 * 1024, 'x')) + End());

  // Mode bytes (see fuzz_multipart.cc).
  const std::string webkit = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
  Write(dir, "mode1_webkit_boundary",
        "\x01" + webkit + "\n" + FilePart(jpeg, "a.jpg", "image/jpeg", webkit) + End(webkit));
  Write(dir, "mode1_quoted_boundary",
        "\x01\"q b\"\n" + FilePart(jpeg, "a.jpg", "image/jpeg", "q b") + End("q b"));
  Write(dir, "mode1_empty_boundary",
        "\x01\n" + FilePart(jpeg, "a.jpg", "image/jpeg", "") + End(""));
  Write(dir, "mode2_no_boundary", "\x02multipart/form-data\n" + FilePart(jpeg) + End());
  Write(dir, "mode2_text_plain", "\x02text/plain\n" + jpeg);
  Write(dir, "mode2_octet_stream",
        "\x02"
        "application/octet-stream\n" +
            jpeg);
  Write(dir, "mode3_chunked", "\x03\x3f" + FilePart(jpeg) + End());
  Write(dir, "mode3_chunked_over_limit",
        "\x03\xff" + FilePart(std::string(48 * 1024, 'x')) + End());
  Write(dir, "mode4_expect_continue",
        "\x04"
        "Expect: 100-continue\n" +
            FilePart(jpeg) + End());
  Write(dir, "mode4_huge_header",
        "\x04X-Pad: " + std::string(12 * 1024, 'b') + "\n" + FilePart(jpeg) + End());
  Write(dir, "mode4_header_without_colon",
        "\x04"
        "NoColonHere\n" +
            FilePart(jpeg) + End());
  Write(dir, "mode5_wrong_token",
        "\x05"
        "Bearer wrong\n" +
            FilePart(jpeg) + End());
  Write(dir, "mode5_basic_auth",
        "\x05"
        "Basic Zm9vOmJhcg==\n" +
            FilePart(jpeg) + End());
  Write(dir, "mode6_broker_refuses", "\x06" + FilePart(jpeg) + End());
  // Mode 7: whole requests as sent, every route and the HTTP framing itself.
  const std::string body = FilePart(jpeg) + End();
  Write(dir, "mode7_upload",
        "\x07POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fuzz-token\r\n"
        "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body);
  Write(dir, "mode7_pipelined",
        "\x07GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /docs HTTP/1.1\r\n\r\n"
        "GET /status/0123456789abcdef0123456789abcdef HTTP/1.1\r\n\r\n");
  Write(dir, "mode7_range",
        "\x07GET /images/0123456789abcdef0123456789abcdef/original HTTP/1.1\r\nRange: bytes=-5\r\n"
        "If-None-Match: \"x\", W/\"y\"\r\n\r\n");
  Write(dir, "mode7_http10", "\x07GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  Write(dir, "mode7_bad_chunk",
        "\x07POST /upload/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
  Write(dir, "mode7_two_lengths",
        "\x07POST /upload/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
  Write(dir, "mode7_big_head", "\x07GET /healthz HTTP/1.1\r\nX-Pad: " + std::string(20 * 1024, 'p') + "\r\n\r\n");
  Write(dir, "mode7_garbage", "\x07\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
  Write(dir, "mode7_methods", "\x07" "DELETE /upload/ HTTP/1.1\r\n\r\nOPTIONS * HTTP/1.1\r\n\r\n");
}

}  // namespace

// libx265 (the HEIF seed's encoder) keeps an allocation until exit; that is
// no finding of ours, and LeakSanitizer would fail the run for it.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <probe_dir> <multipart_dir>\n", argv[0]);
    return 2;
  }
  photo::image::InitVips(argv[0]);
  const fs::path probe = argv[1];
  const fs::path multipart = argv[2];
  fs::create_directories(probe);
  fs::create_directories(multipart);
  ProbeSeeds(probe);
  MultipartSeeds(multipart);
  return 0;
}
