#include <CLI/CLI.hpp>

#include <iostream>

#include "photo/image/vips.h"

int main(int argc, char** argv) {
  CLI::App app{"photo-pipeline: resize, watermark and detect uploaded photos"};
  app.require_subcommand(1);
  app.add_subcommand("version", "Print the version")->callback([] { std::cout << "0.1.0\n"; });
  CLI11_PARSE(app, argc, argv);
  return 0;
}
