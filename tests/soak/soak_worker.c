/* soak_worker: the container side of tests/soak. Runs inside a busybox
 * container (built static) and does mixed file work under DIR for SECONDS:
 *
 *  - fsx-style random I/O on a few files kept open across seals (pwrite,
 *    ftruncate, pread verified against an in-memory shadow copy, mmap writes
 *    with msync, reopen), as in fsx;
 *  - many small files in a pool of directories: create, overwrite, append,
 *    unlink, rename over another name, chmod, chown, hard links (of files
 *    that are not written again), symlinks, and swapping two whole
 *    directories with renames.
 *
 * Hard links follow Docker's overlay2 semantics, which ctrsnap-fs shares
 * (fusefs/core/overlay_mount.cc, index=off): once a generation is sealed,
 * copying up one name of a hard-linked file breaks the link, and link(2) and
 * rename(2) of a name copy it up. So a file is written, chmod-ed or chown-ed
 * only while it has a single name (the names of an object then hold the same
 * content, one file or not), and nlink is not checked.
 *
 * Every operation is checked against an in-memory model. At the end every
 * name is verified (type, mode, owner, content, link target, no extra
 * directory entries) and DIR/MANIFEST lists each file with its FNV-1a 64
 * hash, so the test can check the last snapshot against what the container
 * saw. The result goes to DIR/RESULT ("OK ..." or "FAIL ...") and stdout;
 * exit status 0 iff OK.
 *
 * Usage: soak_worker DIR SECONDS SEED
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { kFsxFiles = 4, kFsxMax = 256 * 1024, kDirs = 12, kSlots = 32, kLinks = 48, kSyms = 24 };
enum { kMaxObjects = kDirs * kSlots + kLinks + 16 };

static const char* g_dir;
static uint64_t g_rng;
static long g_ops, g_errors;
static char g_first_error[512];

static uint64_t Rand(void) { /* xorshift64* */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 2685821657736338717ULL;
}
static unsigned RandN(unsigned n) { return (unsigned)(Rand() % n); }

static void Fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (g_errors++ == 0) snprintf(g_first_error, sizeof g_first_error, "%s", buf);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  /* UTC, as the daemon's log, to find the failure there */
  fprintf(stderr, "soak_worker: %02d:%02d:%02d.%06ld %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
          ts.tv_nsec / 1000, buf);
}

static uint64_t Fnv(const unsigned char* p, size_t n) {
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static void FillRandom(unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = (unsigned char)(Rand() >> 32);
}

/* ---- fsx files -------------------------------------------------------- */

struct FsxFile {
  int fd;
  size_t size;
  unsigned char shadow[kFsxMax];
};
static struct FsxFile g_fsx[kFsxFiles];

static void FsxPath(int i, char* out, size_t n) { snprintf(out, n, "%s/fsx/f%d", g_dir, i); }

static void FsxOpen(int i) {
  char p[256];
  FsxPath(i, p, sizeof p);
  g_fsx[i].fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (g_fsx[i].fd < 0) Fail("open %s: %s", p, strerror(errno));
}

static void FsxCheckRange(int i, size_t off, size_t len, const char* what) {
  static unsigned char buf[kFsxMax];
  ssize_t n = pread(g_fsx[i].fd, buf, len, (off_t)off);
  size_t want = off >= g_fsx[i].size ? 0 : (off + len > g_fsx[i].size ? g_fsx[i].size - off : len);
  if (n < 0 || (size_t)n != want) {
    Fail("fsx f%d %s: pread %zu@%zu returned %zd (want %zu): %s", i, what, len, off, n, want,
         n < 0 ? strerror(errno) : "short");
    return;
  }
  if (memcmp(buf, g_fsx[i].shadow + off, want) != 0) {
    size_t k = 0;
    while (buf[k] == g_fsx[i].shadow[off + k]) ++k;
    Fail("fsx f%d %s: data mismatch at offset %zu (size %zu)", i, what, off + k, g_fsx[i].size);
  }
}

static void FsxOp(int i) {
  struct FsxFile* f = &g_fsx[i];
  if (f->fd < 0) return;
  unsigned op = RandN(100);
  size_t off = RandN(kFsxMax), len = 1 + RandN(64 * 1024);
  if (off + len > kFsxMax) len = kFsxMax - off;
  if (op < 40) { /* write, possibly extending, possibly leaving a hole */
    static unsigned char buf[kFsxMax];
    FillRandom(buf, len);
    if (pwrite(f->fd, buf, len, (off_t)off) != (ssize_t)len) {
      Fail("fsx f%d: pwrite %zu@%zu: %s", i, len, off, strerror(errno));
      return;
    }
    if (off > f->size) memset(f->shadow + f->size, 0, off - f->size);
    memcpy(f->shadow + off, buf, len);
    if (off + len > f->size) f->size = off + len;
  } else if (op < 55) { /* truncate up or down */
    size_t ns = RandN(kFsxMax);
    if (ftruncate(f->fd, (off_t)ns) != 0) {
      Fail("fsx f%d: ftruncate %zu: %s", i, ns, strerror(errno));
      return;
    }
    if (ns > f->size) memset(f->shadow + f->size, 0, ns - f->size);
    f->size = ns;
  } else if (op < 80) { /* read back and verify */
    FsxCheckRange(i, off, len, "read");
  } else if (op < 93) { /* mmap write inside the file */
    if (f->size == 0) return;
    off = RandN((unsigned)f->size);
    if (off + len > f->size) len = f->size - off;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), base = off / page * page;
    size_t maplen = off + len - base;
    unsigned char* m = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, (off_t)base);
    if (m == MAP_FAILED) {
      Fail("fsx f%d: mmap %zu@%zu: %s", i, maplen, base, strerror(errno));
      return;
    }
    if (memcmp(m + (off - base), f->shadow + off, len) != 0) Fail("fsx f%d: mmap read mismatch @%zu", i, off);
    FillRandom(f->shadow + off, len);
    memcpy(m + (off - base), f->shadow + off, len);
    if (msync(m, maplen, MS_SYNC) != 0) Fail("fsx f%d: msync: %s", i, strerror(errno));
    munmap(m, maplen);
  } else if (op < 97) { /* close and reopen (a new open after a seal copies up) */
    close(f->fd);
    FsxOpen(i);
  } else {
    if (fsync(f->fd) != 0) Fail("fsx f%d: fsync: %s", i, strerror(errno));
  }
  struct stat st;
  if (f->fd >= 0 && (fstat(f->fd, &st) != 0 || (size_t)st.st_size != f->size)) {
    Fail("fsx f%d: size %lld, model %zu", i, (long long)st.st_size, f->size);
  }
}

/* ---- small files, hard links, symlinks -------------------------------- */

/* An inode of the model: content, mode, owner; NAMES hard links to it. */
struct Object {
  int used, names;
  mode_t mode;
  uid_t uid;
  size_t len;
  unsigned char data[4096];
};
static struct Object g_obj[kMaxObjects];
/* Names: slot names d/n (kDirs * kSlots) then links/lN; value: object or -1. */
static int g_name_obj[kDirs * kSlots + kLinks];
static char g_dirname[kDirs][16]; /* physical name of logical dir d (swaps) */
static char g_sym[kSyms][64];     /* symlink targets, "" = absent */

static void NamePath(int name, char* out, size_t n) {
  if (name < kDirs * kSlots) {
    snprintf(out, n, "%s/small/%s/n%02d", g_dir, g_dirname[name / kSlots], name % kSlots);
  } else {
    snprintf(out, n, "%s/links/l%02d", g_dir, name - kDirs * kSlots);
  }
}

static int NewObject(void) {
  for (int i = 0; i < kMaxObjects; ++i) {
    if (!g_obj[i].used) {
      memset(&g_obj[i], 0, sizeof g_obj[i]);
      g_obj[i].used = 1;
      g_obj[i].mode = 0644;
      return i;
    }
  }
  return -1;
}

static void DropName(int name) {
  int o = g_name_obj[name];
  if (o >= 0 && --g_obj[o].names == 0) g_obj[o].used = 0;
  g_name_obj[name] = -1;
}

static int RandomName(void) { return (int)RandN(kDirs * kSlots + kLinks); }

static void WriteWhole(int name) {
  char p[256];
  NamePath(name, p, sizeof p);
  int o = g_name_obj[name];
  int fresh = o < 0;
  if (!fresh && g_obj[o].names > 1) return; /* see the top: links are read-only */
  if (fresh && (o = NewObject()) < 0) return;
  struct Object* ob = &g_obj[o];
  int append = !fresh && RandN(3) == 0;
  size_t add = RandN(append ? 512 : 4096);
  if (append && ob->len + add > sizeof ob->data) add = sizeof ob->data - ob->len;
  unsigned char buf[4096];
  FillRandom(buf, add);
  int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), ob->mode);
  if (fd < 0 || write(fd, buf, add) != (ssize_t)add) {
    Fail("write %s: %s", p, strerror(errno));
    if (fd >= 0) close(fd);
    if (fresh) ob->used = 0;
    return;
  }
  close(fd);
  if (append) {
    memcpy(ob->data + ob->len, buf, add);
    ob->len += add;
  } else {
    memcpy(ob->data, buf, add);
    ob->len = add;
  }
  if (fresh) {
    g_name_obj[name] = o;
    ob->names = 1;
    ob->uid = 0;
  }
}

static void SmallOp(void) {
  unsigned op = RandN(100);
  int a = RandomName(), b = RandomName();
  char pa[256], pb[256];
  NamePath(a, pa, sizeof pa);
  NamePath(b, pb, sizeof pb);
  if (op < 40) {
    WriteWhole(a);
  } else if (op < 55) { /* unlink */
    if (g_name_obj[a] < 0) return;
    if (unlink(pa) != 0) Fail("unlink %s: %s", pa, strerror(errno));
    DropName(a);
  } else if (op < 70) { /* rename a over b */
    if (g_name_obj[a] < 0 || a == b) return;
    /* Two names of one object of the model may be two files by now: link(2)
     * and rename(2) of a name of a sealed hard-linked file copy it up, which
     * breaks the link (overlay2, see the top). */
    int one_file = 0;
    if (g_name_obj[b] == g_name_obj[a]) {
      struct stat sa, sb;
      one_file = lstat(pa, &sa) == 0 && lstat(pb, &sb) == 0 && sa.st_dev == sb.st_dev &&
                 sa.st_ino == sb.st_ino;
    }
    if (rename(pa, pb) != 0) {
      Fail("rename %s %s: %s", pa, pb, strerror(errno));
      return;
    }
    if (one_file) return; /* POSIX: a no-op */
    if (g_name_obj[b] == g_name_obj[a]) { /* B is now A's copy: same content */
      DropName(a);
      return;
    }
    DropName(b);
    g_name_obj[b] = g_name_obj[a];
    g_name_obj[a] = -1;
  } else if (op < 80) { /* hard link a as b */
    if (g_name_obj[a] < 0 || g_name_obj[b] >= 0) return;
    if (link(pa, pb) != 0) {
      Fail("link %s %s: %s", pa, pb, strerror(errno));
      return;
    }
    g_name_obj[b] = g_name_obj[a];
    g_obj[g_name_obj[a]].names++;
  } else if (op < 86) { /* chmod */
    if (g_name_obj[a] < 0 || g_obj[g_name_obj[a]].names > 1) return;
    static const mode_t modes[] = {0600, 0644, 0755, 0640, 04755};
    mode_t m = modes[RandN(5)];
    if (chmod(pa, m) != 0) Fail("chmod %s: %s", pa, strerror(errno));
    g_obj[g_name_obj[a]].mode = m;
  } else if (op < 90) { /* chown */
    if (g_name_obj[a] < 0 || g_obj[g_name_obj[a]].names > 1) return;
    uid_t u = RandN(2) ? 1000 : 0;
    if (chown(pa, u, u) != 0) Fail("chown %s: %s", pa, strerror(errno));
    g_obj[g_name_obj[a]].uid = u;
    g_obj[g_name_obj[a]].mode &= ~(mode_t)04000; /* chown clears set-uid */
  } else if (op < 96) { /* symlink: create or replace */
    int s = (int)RandN(kSyms);
    char p[256], tmp[256];
    snprintf(p, sizeof p, "%s/syms/s%02d", g_dir, s);
    if (g_sym[s][0] != '\0' && RandN(3) == 0) {
      if (unlink(p) != 0) Fail("unlink %s: %s", p, strerror(errno));
      g_sym[s][0] = '\0';
      return;
    }
    char target[64];
    snprintf(target, sizeof target, "../small/d%02u/n%02u-%llx", RandN(kDirs), RandN(kSlots),
             (unsigned long long)(Rand() & 0xffff));
    snprintf(tmp, sizeof tmp, "%s/syms/.tmp", g_dir);
    if (symlink(target, tmp) != 0 || rename(tmp, p) != 0) {
      Fail("symlink %s: %s", p, strerror(errno));
      return;
    }
    snprintf(g_sym[s], sizeof g_sym[s], "%s", target);
  } else { /* swap two whole directories */
    int x = (int)RandN(kDirs), y = (int)RandN(kDirs);
    if (x == y) return;
    char px[256], py[256], pt[256];
    snprintf(px, sizeof px, "%s/small/%s", g_dir, g_dirname[x]);
    snprintf(py, sizeof py, "%s/small/%s", g_dir, g_dirname[y]);
    snprintf(pt, sizeof pt, "%s/small/swap", g_dir);
    if (rename(px, pt) != 0 || rename(py, px) != 0 || rename(pt, py) != 0) {
      Fail("swap %s %s: %s", px, py, strerror(errno));
      return;
    }
    char t[16];
    memcpy(t, g_dirname[x], sizeof t);
    memcpy(g_dirname[x], g_dirname[y], sizeof t);
    memcpy(g_dirname[y], t, sizeof t);
  }
}

/* ---- final verification and manifest ---------------------------------- */

static void VerifyFile(const char* p, const unsigned char* data, size_t len, mode_t mode,
                       uid_t uid, FILE* manifest) {
  struct stat st;
  if (lstat(p, &st) != 0) {
    Fail("verify %s: %s", p, strerror(errno));
    return;
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != mode || st.st_uid != uid) {
    Fail("verify %s: mode %o uid %u, model %o uid %u", p, st.st_mode, st.st_uid, mode, uid);
  }
  static unsigned char buf[kFsxMax + 1];
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
  if (fd >= 0) close(fd);
  if (n != (ssize_t)len || memcmp(buf, data, len) != 0) Fail("verify %s: content differs", p);
  fprintf(manifest, "f %016llx %zu %o %u %s\n", (unsigned long long)Fnv(data, len), len, mode, uid,
          p + strlen(g_dir));
}

/* Entries of DIR other than the model's: an extra name is a failure. */
static void VerifyEntries(const char* dir, int (*known)(const char*, void*), void* arg) {
  DIR* d = opendir(dir);
  if (d == NULL) {
    Fail("opendir %s: %s", dir, strerror(errno));
    return;
  }
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (!known(e->d_name, arg)) Fail("verify %s: unexpected entry %s", dir, e->d_name);
  }
  closedir(d);
}

static int KnownSlot(const char* name, void* arg) {
  int d = *(int*)arg, s;
  char extra;
  if (sscanf(name, "n%2d%c", &s, &extra) != 1 || s < 0 || s >= kSlots) return 0;
  return g_name_obj[d * kSlots + s] >= 0;
}
static int KnownLink(const char* name, void* arg) {
  (void)arg;
  int s;
  char extra;
  if (sscanf(name, "l%2d%c", &s, &extra) != 1 || s < 0 || s >= kLinks) return 0;
  return g_name_obj[kDirs * kSlots + s] >= 0;
}
static int KnownSym(const char* name, void* arg) {
  (void)arg;
  int s;
  char extra;
  if (sscanf(name, "s%2d%c", &s, &extra) != 1 || s < 0 || s >= kSyms) return 0;
  return g_sym[s][0] != '\0';
}
static int KnownDir(const char* name, void* arg) {
  (void)arg;
  for (int d = 0; d < kDirs; ++d) {
    if (strcmp(name, g_dirname[d]) == 0) return 1;
  }
  return 0;
}

static void VerifyAll(void) {
  char p[256];
  snprintf(p, sizeof p, "%s/MANIFEST.tmp", g_dir);
  FILE* m = fopen(p, "w");
  if (m == NULL) {
    Fail("fopen %s: %s", p, strerror(errno));
    return;
  }
  for (int i = 0; i < kFsxFiles; ++i) {
    if (g_fsx[i].fd >= 0) close(g_fsx[i].fd);
    FsxPath(i, p, sizeof p);
    VerifyFile(p, g_fsx[i].shadow, g_fsx[i].size, 0644, 0, m);
  }
  for (int n = 0; n < kDirs * kSlots + kLinks; ++n) {
    int o = g_name_obj[n];
    if (o < 0) continue;
    NamePath(n, p, sizeof p);
    VerifyFile(p, g_obj[o].data, g_obj[o].len, g_obj[o].mode, g_obj[o].uid, m);
  }
  for (int s = 0; s < kSyms; ++s) {
    if (g_sym[s][0] == '\0') continue;
    snprintf(p, sizeof p, "%s/syms/s%02d", g_dir, s);
    char t[256];
    ssize_t n = readlink(p, t, sizeof t - 1);
    if (n < 0 || (size_t)n != strlen(g_sym[s]) || memcmp(t, g_sym[s], (size_t)n) != 0) {
      Fail("verify %s: link target differs", p);
    }
    fprintf(m, "l %s %s\n", g_sym[s], p + strlen(g_dir));
  }
  for (int d = 0; d < kDirs; ++d) {
    snprintf(p, sizeof p, "%s/small/%s", g_dir, g_dirname[d]);
    VerifyEntries(p, KnownSlot, &d);
  }
  snprintf(p, sizeof p, "%s/small", g_dir);
  VerifyEntries(p, KnownDir, NULL);
  snprintf(p, sizeof p, "%s/links", g_dir);
  VerifyEntries(p, KnownLink, NULL);
  snprintf(p, sizeof p, "%s/syms", g_dir);
  VerifyEntries(p, KnownSym, NULL);
  if (fflush(m) != 0 || fsync(fileno(m)) != 0) Fail("write MANIFEST: %s", strerror(errno));
  fclose(m);
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s/MANIFEST.tmp", g_dir);
  snprintf(p, sizeof p, "%s/MANIFEST", g_dir);
  if (rename(tmp, p) != 0) Fail("rename MANIFEST: %s", strerror(errno));
}

static double Now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: soak_worker DIR SECONDS SEED\n");
    return 2;
  }
  g_dir = argv[1];
  double seconds = atof(argv[2]);
  g_rng = strtoull(argv[3], NULL, 0) | 1;
  char p[256];
  const char* sub[] = {"", "/fsx", "/small", "/links", "/syms"};
  for (size_t i = 0; i < sizeof sub / sizeof *sub; ++i) {
    snprintf(p, sizeof p, "%s%s", g_dir, sub[i]);
    if (mkdir(p, 0755) != 0 && errno != EEXIST) Fail("mkdir %s: %s", p, strerror(errno));
  }
  for (int d = 0; d < kDirs; ++d) {
    snprintf(g_dirname[d], sizeof g_dirname[d], "d%02d", d);
    snprintf(p, sizeof p, "%s/small/%s", g_dir, g_dirname[d]);
    if (mkdir(p, 0755) != 0) Fail("mkdir %s: %s", p, strerror(errno));
  }
  for (int n = 0; n < kDirs * kSlots + kLinks; ++n) g_name_obj[n] = -1;
  for (int i = 0; i < kFsxFiles; ++i) FsxOpen(i);
  double end = Now() + seconds;
  while (Now() < end && g_errors < 20) {
    for (int k = 0; k < 64; ++k, ++g_ops) {
      if (RandN(2)) {
        FsxOp((int)RandN(kFsxFiles));
      } else {
        SmallOp();
      }
    }
  }
  VerifyAll();
  char line[700];
  if (g_errors == 0) {
    snprintf(line, sizeof line, "OK ops=%ld\n", g_ops);
  } else {
    snprintf(line, sizeof line, "FAIL errors=%ld ops=%ld first: %s\n", g_errors, g_ops,
             g_first_error);
  }
  fputs(line, stdout);
  snprintf(p, sizeof p, "%s/RESULT", g_dir);
  FILE* r = fopen(p, "w");
  if (r != NULL) {
    fputs(line, r);
    fsync(fileno(r));
    fclose(r);
  }
  return g_errors == 0 ? 0 : 1;
}
