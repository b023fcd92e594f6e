// Probe: what is this upload, and may we decode it?
//
// Decides the format from the bytes alone (magic numbers; never the filename
// or a client's Content-Type), reads the header (dimensions, frames, bands,
// orientation) WITHOUT decoding pixels, and enforces the Limits before any
// decoder touches pixel data. Safe on arbitrary hostile input: every failure
// is a Status with one of the reasons below, never a crash or an exception.
//
// Thread-safe; calls InitVips().
//
// Errors (Status::reason(), code):
//   empty_file              kInvalidArgument   zero bytes
//   unsupported_media_type  kInvalidArgument   not JPEG/PNG/WebP/GIF/TIFF/HEIF/AVIF by magic
//                                              (text, HTML, SVG, PDF, ZIP, ... even though
//                                              libvips could load some of them)
//   too_large               kResourceExhausted more than limits.max_bytes
//   too_many_pixels         kResourceExhausted width*height > max_pixels, or a side
//                                              > max_dimension (checked from the header)
//   too_many_frames         kResourceExhausted frames/pages > max_frames
//   corrupt_image           kInvalidArgument   header unreadable, or the stream is visibly
//                                              truncated (JPEG without EOI after the scan,
//                                              PNG without IDAT/IEND, WebP shorter than its
//                                              RIFF size)
//   not_found               kNotFound          ProbeFile: no such file
//   io_error                kUnavailable       ProbeFile: read failed
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string_view>

#include "photo/core/status.h"
#include "photo/image/types.h"

namespace photo::image {

// The format the leading bytes announce, or nullopt. Needs at most the first
// 32 bytes; pure, no libvips. HEIF/AVIF are recognised by their ISO-BMFF
// `ftyp` brands (avif/avis -> kAvif; heic/heix/heim/heis/mif1/msf1 -> kHeif,
// unless an avif brand is also listed).
std::optional<Format> SniffFormat(std::string_view head);

// Where a JPEG's header ends: the offset just past its first SOS segment.
// Every metadata segment (EXIF, ICC, XMP) and the frame header come before
// it, so head[0, offset) is all a header read needs; a reader can fetch a
// prefix of a large file instead of the whole. nullopt when `head` is not a
// JPEG or ends before that point. Pure; no libvips.
std::optional<std::size_t> JpegHeaderEnd(std::string_view head);

// Probes an in-memory upload. `bytes` is only read during the call.
Result<ProbeInfo> ProbeBuffer(std::string_view bytes, const Limits& limits);

// Probes a file: the size is checked with stat() before anything is read.
Result<ProbeInfo> ProbeFile(const std::filesystem::path& path, const Limits& limits);

}  // namespace photo::image
