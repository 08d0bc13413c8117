#include "sms/sms_provider.h"

namespace latchkey {

const char* transport_name(Transport t) {
  switch (t) {
    case Transport::kSms:
      return "sms";
    case Transport::kVoice:
      return "voice";
  }
  return "sms";
}

}  // namespace latchkey
