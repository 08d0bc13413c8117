#include "storage/sqlite/log_write_gathering_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <mutex>
#include <new>
#include <string>

namespace latchkey {
namespace {

constexpr int kFrameHeaderBytes = 24;  // a log frame's header; bytes 4..7: database size, commit only
// A larger commit is written in pieces of at most this size: the unix VFS writes at most 128 KiB - 1 bytes
// per pwrite, and a longer request fails once the remainder it masks off is a multiple of 128 KiB.
constexpr std::size_t kMaxGatheredBytes = 120 << 10;

std::atomic<std::uint64_t> writes_gathered{0};
std::atomic<std::uint64_t> writes_issued{0};

// One open log. SQLite allocates the VFS's szOsFile bytes: this object, then the wrapped VFS's file.
struct LogFile {
  sqlite3_file base;  // base.pMethods = &kLogMethods
  sqlite3_file* real;
  std::string gathered;              // bytes appended since the last write to `real`
  sqlite3_int64 gathered_at = 0;     // their offset in the file
  bool commit_frame_header = false;  // the last append was a commit frame's header: its page comes next
  sqlite3_int64 last_read_at = -1;   // offset of the last read, when no write came after it
};

constexpr std::size_t kLogFileBytes = (sizeof(LogFile) + 15) / 16 * 16;

sqlite3_vfs* wrapped_vfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }
LogFile* log_file(sqlite3_file* file) { return reinterpret_cast<LogFile*>(file); }

int write_gathered(LogFile* f) {
  if (f->gathered.empty()) return SQLITE_OK;
  writes_issued.fetch_add(1, std::memory_order_relaxed);
  const int rc = f->real->pMethods->xWrite(f->real, f->gathered.data(), static_cast<int>(f->gathered.size()),
                                           f->gathered_at);
  f->gathered.clear();  // written or not: SQLite sees the error and rewrites what it still needs
  f->commit_frame_header = false;
  if (f->gathered.capacity() > kMaxGatheredBytes) f->gathered.shrink_to_fit();
  return rc;
}

int log_close(sqlite3_file* file) {
  LogFile* f = log_file(file);
  const int written = write_gathered(f);
  const int closed = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  f->~LogFile();
  return written != SQLITE_OK ? written : closed;
}

int log_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  LogFile* f = log_file(file);
  if (write_gathered(f) != SQLITE_OK) return SQLITE_IOERR_READ;
  f->last_read_at = offset;
  return f->real->pMethods->xRead(f->real, out, amount, offset);
}

int log_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  LogFile* f = log_file(file);
  writes_gathered.fetch_add(1, std::memory_order_relaxed);
  const auto size = static_cast<std::size_t>(amount);
  const bool appends = !f->gathered.empty() &&
                       offset == f->gathered_at + static_cast<sqlite3_int64>(f->gathered.size()) &&
                       f->gathered.size() + size <= kMaxGatheredBytes;
  const bool ends_commit = f->commit_frame_header;  // this is the page of a commit frame
  // After a transaction that rewrote some of its own frames, SQLite reads each frame from the first rewritten
  // one on and writes its header again, with new checksums, up to the commit frame; no page follows those.
  const bool rewrites_header = amount == kFrameHeaderBytes && offset == f->last_read_at;
  f->last_read_at = -1;
  if (!appends) {
    // Anything else (the first write, a rewrite of an earlier frame, a log restarting at its beginning, a
    // piece of a large commit) goes after what was gathered, in the order SQLite asked.
    if (write_gathered(f) != SQLITE_OK) return SQLITE_IOERR_WRITE;
    if (size > kMaxGatheredBytes) {
      writes_issued.fetch_add(1, std::memory_order_relaxed);
      return f->real->pMethods->xWrite(f->real, data, amount, offset);
    }
    f->gathered_at = offset;
  }
  f->gathered.append(static_cast<const char*>(data), size);
  const auto* bytes = static_cast<const unsigned char*>(data);
  f->commit_frame_header = amount == kFrameHeaderBytes && (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
  if ((ends_commit || rewrites_header) && write_gathered(f) != SQLITE_OK) return SQLITE_IOERR_WRITE;
  return SQLITE_OK;
}

int log_truncate(sqlite3_file* file, sqlite3_int64 size) {
  LogFile* f = log_file(file);
  if (write_gathered(f) != SQLITE_OK) return SQLITE_IOERR_TRUNCATE;
  return f->real->pMethods->xTruncate(f->real, size);
}

int log_sync(sqlite3_file* file, int flags) {
  LogFile* f = log_file(file);
  if (write_gathered(f) != SQLITE_OK) return SQLITE_IOERR_FSYNC;
  return f->real->pMethods->xSync(f->real, flags);
}

int log_file_size(sqlite3_file* file, sqlite3_int64* size) {
  LogFile* f = log_file(file);
  if (write_gathered(f) != SQLITE_OK) return SQLITE_IOERR_FSTAT;
  return f->real->pMethods->xFileSize(f->real, size);
}

int log_lock(sqlite3_file* file, int level) {
  return log_file(file)->real->pMethods->xLock(log_file(file)->real, level);
}
int log_unlock(sqlite3_file* file, int level) {
  return log_file(file)->real->pMethods->xUnlock(log_file(file)->real, level);
}
int log_check_reserved_lock(sqlite3_file* file, int* out) {
  return log_file(file)->real->pMethods->xCheckReservedLock(log_file(file)->real, out);
}

int log_file_control(sqlite3_file* file, int op, void* arg) {
  LogFile* f = log_file(file);
  if (write_gathered(f) != SQLITE_OK) return SQLITE_IOERR_WRITE;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}

int log_sector_size(sqlite3_file* file) {
  return log_file(file)->real->pMethods->xSectorSize(log_file(file)->real);
}
int log_device_characteristics(sqlite3_file* file) {
  return log_file(file)->real->pMethods->xDeviceCharacteristics(log_file(file)->real);
}

// Version 1: SQLite maps shared memory and fetches pages through the database file, never through its log.
const sqlite3_io_methods kLogMethods = {
    1,
    log_close,
    log_read,
    log_write,
    log_truncate,
    log_sync,
    log_file_size,
    log_lock,
    log_unlock,
    log_check_reserved_lock,
    log_file_control,
    log_sector_size,
    log_device_characteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

int gathering_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* wrapped = wrapped_vfs(vfs);
  if ((flags & SQLITE_OPEN_WAL) == 0) return wrapped->xOpen(wrapped, name, file, flags, out_flags);
  LogFile* f = new (file) LogFile{};
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kLogFileBytes);
  f->real->pMethods = nullptr;
  const int rc = wrapped->xOpen(wrapped, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);  // SQLite's rule: close even a failed open
    f->~LogFile();
    file->pMethods = nullptr;  // SQLite will not call xClose
    return rc;
  }
  f->base.pMethods = &kLogMethods;
  return SQLITE_OK;
}

sqlite3_vfs* registered_vfs() {
  static sqlite3_vfs vfs;
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_initialize();
    sqlite3_vfs* wrapped = sqlite3_vfs_find(nullptr);
    vfs = *wrapped;  // every other method is the wrapped VFS's, which ignores the VFS pointer it is handed
    vfs.pNext = nullptr;
    vfs.zName = "latchkey-gathered-log";
    vfs.pAppData = wrapped;
    vfs.szOsFile = static_cast<int>(kLogFileBytes) + wrapped->szOsFile;
    vfs.xOpen = gathering_open;
    sqlite3_vfs_register(&vfs, /*makeDflt=*/0);
  });
  return &vfs;
}

LogFile* open_log_of(sqlite3* db) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) != SQLITE_OK || file == nullptr) {
    return nullptr;
  }
  return file->pMethods == &kLogMethods ? log_file(file) : nullptr;
}

}  // namespace

const char* log_write_gathering_vfs() { return registered_vfs()->zName; }

LogWriteGatheringStats log_write_gathering_stats() {
  return {writes_gathered.load(std::memory_order_relaxed), writes_issued.load(std::memory_order_relaxed)};
}

std::size_t log_bytes_gathered(sqlite3* db) {
  const LogFile* f = open_log_of(db);
  return f ? f->gathered.size() : 0;
}

Status write_gathered_log(sqlite3* db) {
  LogFile* f = open_log_of(db);
  if (!f) return {};
  const int rc = write_gathered(f);
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::kInternal, std::string("writing the gathered log: ") + sqlite3_errstr(rc));
  }
  return {};
}

}  // namespace latchkey
