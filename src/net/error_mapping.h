// The single place where domain errors become HTTP statuses.
#pragma once

#include "core/error.h"

namespace latchkey {

int http_status_for(ErrorCode code);

}  // namespace latchkey
