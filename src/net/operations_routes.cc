#include "net/api_routes.h"

namespace latchkey {

void add_operations_routes(Router& router, Storage& storage, MetricsRegistry& metrics) {
  router.add("GET", "/health", HandlerPool::kWorker, [&storage](HttpRequest&) {
    Status healthy = storage.check_health();
    if (!healthy.ok())
      return HttpResponse::error(make_error(ErrorCode::kUnavailable, "storage is not answering"));
    return HttpResponse::json(200, {{"status", "ok"}});
  });
  router.add("GET", "/metrics", HandlerPool::kInline, [&metrics](HttpRequest&) {
    return HttpResponse::text(200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace latchkey
