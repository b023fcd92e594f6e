// Secret settings (tokens, keys) from the environment or from a file, as
// Docker and Kubernetes secrets are mounted.
#pragma once

#include <functional>
#include <string>

#include "photo/core/status.h"

namespace photo {

// VAR, or the contents of the file VAR_FILE names, with trailing whitespace
// (the newline editors add) removed; `*out` is left alone when neither is
// set. `env` looks a variable up (nullptr when unset). Both set, an
// unreadable or empty file: kInvalidArgument("bad_config") naming the
// variable.
Status ReadSecretSetting(const std::function<const char*(const char*)>& env, const std::string& var,
                         std::string* out);

}  // namespace photo
