# Every third-party library comes from Debian's packages (scripts/setup.sh).
# Imported targets are SYSTEM includes, which keeps OpenCV 4.6's C++20
# deprecation warnings out of our clean build.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(VIPS REQUIRED IMPORTED_TARGET vips-cpp>=8.14)
find_package(OpenCV 4.6 REQUIRED COMPONENTS core imgproc objdetect dnn img_hash)
add_library(photo_opencv INTERFACE)
target_include_directories(photo_opencv SYSTEM INTERFACE ${OpenCV_INCLUDE_DIRS})
target_link_libraries(photo_opencv INTERFACE opencv_core opencv_imgproc opencv_objdetect opencv_dnn opencv_img_hash)
add_library(photo::opencv ALIAS photo_opencv)

find_package(nlohmann_json 3.10 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(rabbitmq-c REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
# S3 storage: libcurl signs requests (CURLOPT_AWS_SIGV4), OpenSSL for digests
# and presigned URLs, libxml2 for S3's XML answers.
find_package(CURL 7.75 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(LibXml2 REQUIRED)
# Boost.Beast/Asio, header-only. Debian 12's default Boost (1.74): the
# libboost1.81-dev package conflicts with libboost1.74-dev, which
# python3-skimage (the tests' image source) pulls in through pythran.
find_package(Boost 1.74 REQUIRED)

if(PHOTO_BUILD_TESTS)
  find_package(GTest REQUIRED)
  # cpp-httplib: the tests' HTTP client only. Every server in the binary (the
  # API and the workers' metrics listener) is Boost.Beast, so production code
  # links no cpp-httplib. Debian ships it as a compiled .so with pkg-config
  # only; the .pc defines (OpenSSL/zlib/brotli support) change struct layouts,
  # so they must come from pkg-config, never be guessed.
  pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
endif()
if(PHOTO_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
