#include "layers/lib/byte_sink.h"

#include <unistd.h>

#include <cerrno>

#include "common/file_util.h"

namespace ctrsnap::layers {

Status HashingFileSink::Write(std::string_view data) {
  hash_.Update(data);
  size_ += data.size();
  return WriteAll(fd_.get(), data);
}

Status HashingFileSink::Close() {
  digest_ = hash_.Finish();
  if (::fsync(fd_.get()) != 0) return Status::FromErrno(errno, "fsync blob");
  if (::close(fd_.release()) != 0) return Status::FromErrno(errno, "close blob");
  return Status::Ok();
}

}  // namespace ctrsnap::layers
