// A SQLite VFS that gathers the write-ahead log's writes of one commit into a single write.
//
// SQLite appends a commit to the log one frame at a time, and each frame as two writes: its 24-byte header,
// then the page. A commit of 15 pages costs 30 pwrite calls. Through this VFS the log's appends are kept in
// memory and handed to the wrapped VFS as one write when the commit's last frame (the one whose header
// carries the commit mark, a non-zero database size) has been appended. The commit becomes visible to other
// connections only after that frame is written (SQLite updates the shared index afterwards), so readers never
// see a frame that is still in memory.
//
// The gathered bytes are also written before anything that needs them on disk or in order: a read of the log,
// a write that does not append to them, a sync, a truncation, a size query, a file control, and closing the
// file. A failed gathered write fails the write call that triggered it, so SQLite abandons that commit as it
// would after a failed write of its own. Files other than the log are the wrapped VFS's files, untouched.
//
// Durability does not change: a commit still needs a sync of the log (SQLite's, or SqliteDatabase::sync_wal)
// before it survives a crash, and before that sync the kernel may have kept any part of it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/error.h"

struct sqlite3;

namespace latchkey {

// The VFS's name, for sqlite3_open_v2. Registers it (wrapping the default VFS, not as the default) on the
// first call; thread-safe.
const char* log_write_gathering_vfs();

// Process-wide counts, for tests and benchmarks.
struct LogWriteGatheringStats {
  std::uint64_t writes_gathered = 0;  // log writes SQLite asked for through this VFS
  std::uint64_t writes_issued = 0;    // writes handed to the wrapped VFS for them
};
LogWriteGatheringStats log_write_gathering_stats();

// Bytes of `db`'s log held in memory (0 when its log is not open through this VFS). After a COMMIT returns
// this is 0; the writer checks it.
std::size_t log_bytes_gathered(sqlite3* db);

// Writes what `db`'s log holds in memory now (nothing to do when it holds none).
Status write_gathered_log(sqlite3* db);

}  // namespace latchkey
