#include "fusefs/fuse/request_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fuse.h>

#include <cstring>
#include <vector>

namespace ctrsnap::fs {
namespace {

template <typename Arg>
std::vector<char> Request(uint32_t opcode, const Arg& arg) {
  std::vector<char> buf(sizeof(fuse_in_header) + sizeof(Arg));
  fuse_in_header in = {};
  in.opcode = opcode;
  in.len = static_cast<uint32_t>(buf.size());
  std::memcpy(buf.data(), &in, sizeof(in));
  std::memcpy(buf.data() + sizeof(in), &arg, sizeof(arg));
  return buf;
}

bool MayBlock(const std::vector<char>& b) { return RequestMayBlock(b.data(), b.size()); }

TEST(RequestLoop, MetadataIsAnsweredInline) {
  fuse_getattr_in g = {};
  EXPECT_FALSE(MayBlock(Request(FUSE_GETATTR, g)));
  EXPECT_FALSE(MayBlock(Request(FUSE_LOOKUP, g)));
  fuse_setattr_in chmod = {};
  chmod.valid = FATTR_MODE;
  EXPECT_FALSE(MayBlock(Request(FUSE_SETATTR, chmod)));
  fuse_open_in ro = {};
  ro.flags = O_RDONLY;
  EXPECT_FALSE(MayBlock(Request(FUSE_OPEN, ro)));
  fuse_read_in small = {};
  small.size = 4096;
  EXPECT_FALSE(MayBlock(Request(FUSE_READ, small)));
}

TEST(RequestLoop, PossiblyBlockingRequestsHandOver) {
  fuse_setattr_in trunc = {};
  trunc.valid = FATTR_SIZE;
  EXPECT_TRUE(MayBlock(Request(FUSE_SETATTR, trunc)));
  fuse_open_in rw = {};
  rw.flags = O_RDWR;
  EXPECT_TRUE(MayBlock(Request(FUSE_OPEN, rw)));
  fuse_read_in big = {};
  big.size = 1 << 20;
  EXPECT_TRUE(MayBlock(Request(FUSE_READ, big)));
  EXPECT_TRUE(MayBlock(Request(FUSE_WRITE, big)));
  fuse_fsync_in f = {};
  EXPECT_TRUE(MayBlock(Request(FUSE_FSYNC, f)));
  // A truncated request is treated as possibly blocking.
  std::vector<char> cut = Request(FUSE_READ, big);
  cut.resize(sizeof(fuse_in_header) + 4);
  EXPECT_TRUE(MayBlock(cut));
}

}  // namespace
}  // namespace ctrsnap::fs
