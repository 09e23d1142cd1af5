#include "layers/lib/byte_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/file_util.h"

namespace ctrsnap::layers {

Status HashingFileSink::Write(std::string_view data) {
  hash_.Update(data);
  size_ += data.size();
  RETURN_IF_ERROR(WriteAll(fd_.get(), data));
  // Start writeback as we go, so that the fsync in Close() has little left
  // to wait for (a layer is published only after it is on disk).
  constexpr uint64_t kWriteback = 8 << 20;
  if (size_ - flushed_ >= kWriteback) {
    ::sync_file_range(fd_.get(), static_cast<off_t>(flushed_), static_cast<off_t>(size_ - flushed_),
                      SYNC_FILE_RANGE_WRITE);
    flushed_ = size_;
  }
  return Status::Ok();
}

Status HashingFileSink::Close() {
  digest_ = hash_.Finish();
  if (::fsync(fd_.get()) != 0) return Status::FromErrno(errno, "fsync blob");
  if (::close(fd_.release()) != 0) return Status::FromErrno(errno, "close blob");
  return Status::Ok();
}

}  // namespace ctrsnap::layers
