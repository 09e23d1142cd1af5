#include "layers/drift/scanners.h"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/file_util.h"
#include "common/unique_fd.h"
#include "layers/drift/drift_test_util.h"
#include "layers/drift/scan_root.h"

namespace ctrsnap::drift {
namespace {

using testing::AddDistInfo;
using testing::TempRoot;

const Item* Find(const Inventory& inv, std::string_view eco, std::string_view name,
                 std::string_view location = {}) {
  for (const auto& it : inv.items) {
    if (it.ecosystem == eco && it.name == name && (location.empty() || it.location == location)) {
      return &it;
    }
  }
  return nullptr;
}

size_t Count(const Inventory& inv, std::string_view eco) {
  return static_cast<size_t>(std::count_if(inv.items.begin(), inv.items.end(),
                                           [&](const Item& it) { return it.ecosystem == eco; }));
}

Inventory Scan(const TempRoot& root) {
  auto inv = ScanRootPath(root.path());
  EXPECT_TRUE(inv.ok()) << inv.status().ToString();
  return inv.ok() ? std::move(*inv) : Inventory();
}

TEST(DpkgScannerTest, HostStatusFileOnlyInstalledPackages) {
  auto host = ReadFileToString("/var/lib/dpkg/status");
  if (!host.ok()) GTEST_SKIP() << "no /var/lib/dpkg/status on this host";
  size_t installed = 0, pos = 0;
  while ((pos = host->find("Status: install ok installed\n", pos)) != std::string::npos) {
    ++installed;
    ++pos;
  }
  ASSERT_GT(installed, 10u);
  TempRoot root;
  // A removed-but-config-files package must not count.
  root.Write("var/lib/dpkg/status",
             *host + "\nPackage: ghost-pkg\nStatus: deinstall ok config-files\nVersion: 1.0\n"
                     "Architecture: amd64\n\n");
  Inventory inv = Scan(root);
  EXPECT_EQ(Count(inv, kEcoDeb), installed);
  EXPECT_EQ(Find(inv, kEcoDeb, "ghost-pkg"), nullptr);
  const Item* libc = Find(inv, kEcoDeb, "libc6");
  ASSERT_NE(libc, nullptr);
  EXPECT_FALSE(libc->version.empty());
  EXPECT_FALSE(libc->arch.empty());
}

TEST(DpkgScannerTest, DistrolessStatusD) {
  TempRoot root;
  root.Write("var/lib/dpkg/status.d/libc6",
             "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nDescription: x\n y\n");
  root.Write("var/lib/dpkg/status.d/libc6.md5sums", "abc  usr/lib/libc.so.6\n");
  root.Write("var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a-0+deb12u1\n"
                                             "Architecture: all\n");
  Inventory inv = Scan(root);
  EXPECT_EQ(Count(inv, kEcoDeb), 2u);
  ASSERT_NE(Find(inv, kEcoDeb, "tzdata"), nullptr);
  EXPECT_EQ(Find(inv, kEcoDeb, "libc6")->version, "2.36-9+deb12u4");
}

TEST(ApkScannerTest, InstalledDbThroughMergedUsrSymlink) {
  TempRoot root;
  // /lib -> /usr/lib as an absolute symlink: must resolve inside the root.
  root.Symlink("/usr/lib", "lib");
  root.Write("usr/lib/apk/db/installed",
             "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\n\n"
             "C:Q1def=\nP:busybox\nV:1.36.1-r5\nA:x86_64\nT:Size optimized toolbox\n\n");
  Inventory inv = Scan(root);
  ASSERT_EQ(Count(inv, kEcoApk), 2u);
  EXPECT_EQ(Find(inv, kEcoApk, "busybox")->version, "1.36.1-r5");
  EXPECT_EQ(Find(inv, kEcoApk, "musl")->arch, "x86_64");
}

TEST(RootFsTest, SymlinksNeverReachTheHost) {
  if (!ReadFileToString("/var/lib/dpkg/status").ok()) GTEST_SKIP() << "host has no dpkg status";
  for (const char* target : {"/var/lib/dpkg", "../../../../../../../../../../var/lib/dpkg"}) {
    TempRoot root;
    // Resolved on the host, either link would reach the host's dpkg database;
    // resolved inside the root, both point back at themselves (ELOOP).
    root.Symlink(target, "var/lib/dpkg");
    root.Symlink("/usr", "opt/hostusr");  // the walker must not follow it
    root.Symlink("/", "srv/hostroot");
    Inventory inv = Scan(root);
    EXPECT_EQ(Count(inv, kEcoDeb), 0u) << target;
    EXPECT_EQ(Count(inv, kEcoPython), 0u) << target;
    EXPECT_EQ(Count(inv, kEcoEtc), 0u) << target;
  }
}

TEST(RootFsTest, FifosAreNeverOpened) {
  TempRoot root;
  root.Mkdir("var/lib/dpkg");
  ASSERT_EQ(::mkfifo(root.Abs("var/lib/dpkg/status").c_str(), 0644), 0);
  root.Mkdir("usr/lib/python3/dist-packages/x-1.0.dist-info");
  ASSERT_EQ(::mkfifo(root.Abs("usr/lib/python3/dist-packages/x-1.0.dist-info/METADATA").c_str(), 0644), 0);
  root.Mkdir("etc");
  ASSERT_EQ(::mkfifo(root.Abs("etc/pipe").c_str(), 0644), 0);
  Inventory inv = Scan(root);  // would block forever on open(O_RDONLY) of a FIFO
  EXPECT_EQ(Count(inv, kEcoDeb), 0u);
  ASSERT_EQ(inv.notes.size(), 1u);
  EXPECT_NE(inv.notes[0].find("not a regular file"), std::string::npos);
  EXPECT_EQ(Find(inv, kEcoPython, "x")->version, "1.0");  // from the folder name
}

TEST(PythonScannerTest, DistInfoEggInfoAndEnvironments) {
  TempRoot root;
  std::string sys = "usr/lib/python3/dist-packages";
  std::string local = "usr/local/lib/python3.11/site-packages";
  std::string venv = "opt/venv/lib/python3.11/site-packages";
  AddDistInfo(root, local, "numpy", "1.26.4");
  AddDistInfo(root, local, "Typing_Extensions", "4.9.0");
  AddDistInfo(root, venv, "numpy", "2.0.0rc1");
  AddDistInfo(root, "home/alice/.local/lib/python3.11/site-packages", "requests", "2.31.0");
  AddDistInfo(root, "opt/conda/envs/train/lib/python3.10/site-packages", "torch", "2.3.0+cu121");
  root.Write(sys + "/six-1.16.0.egg-info", "Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n");
  root.Write(sys + "/zope.interface-5.5.2.egg-info/PKG-INFO",
             "Metadata-Version: 2.1\nName: zope.interface\nVersion: 5.5.2\n");
  root.Write(sys + "/broken-3.1.dist-info/RECORD", "");  // no METADATA: name from the folder
  Inventory inv = Scan(root);
  EXPECT_EQ(Count(inv, kEcoPython), 8u);
  EXPECT_EQ(Find(inv, kEcoPython, "numpy", "/usr/local")->version, "1.26.4");
  EXPECT_EQ(Find(inv, kEcoPython, "numpy", "/opt/venv")->version, "2.0.0rc1");
  EXPECT_EQ(Find(inv, kEcoPython, "numpy", "/opt/venv")->path,
            "/opt/venv/lib/python3.11/site-packages");
  EXPECT_NE(Find(inv, kEcoPython, "typing-extensions", "/usr/local"), nullptr);
  EXPECT_NE(Find(inv, kEcoPython, "requests", "/home/alice/.local"), nullptr);
  EXPECT_EQ(Find(inv, kEcoPython, "torch", "/opt/conda/envs/train")->version, "2.3.0+cu121");
  EXPECT_EQ(Find(inv, kEcoPython, "six", "/usr")->version, "1.16.0");
  EXPECT_EQ(Find(inv, kEcoPython, "zope-interface", "/usr")->version, "5.5.2");
  EXPECT_EQ(Find(inv, kEcoPython, "broken", "/usr")->version, "3.1");
}

TEST(PythonScannerTest, NameNormalizationAndMetadataHeader) {
  EXPECT_EQ(NormalizePythonName("Foo.Bar__baz--Qux"), "foo-bar-baz-qux");
  EXPECT_EQ(NormalizePythonName("PyYAML"), "pyyaml");
  std::string name, version;
  ParseCoreMetadata("Metadata-Version: 2.1\r\nName: x\r\n\r\nVersion: 9\r\n", &name, &version);
  EXPECT_EQ(name, "x");
  EXPECT_EQ(version, "");  // Version in the body does not count
}

TEST(CondaScannerTest, CondaMetaRecords) {
  TempRoot root;
  root.Write("opt/conda/conda-meta/python-3.11.5-h955ad1f_0.json",
             R"({"name":"python","version":"3.11.5","build":"h955ad1f_0",)"
             R"("channel":"https://repo.anaconda.com/pkgs/main/linux-64","files":["bin/python3"],)"
             R"("paths_data":{"paths":[{"_path":"bin/python3"}]},"depends":["libffi"]})");
  root.Write("opt/conda/envs/gpu/conda-meta/cudatoolkit-11.8.0-h6a678d5_0.json",
             R"({"build":"h6a678d5_0","name":"cudatoolkit","version":"11.8.0","schannel":"nvidia"})");
  root.Write("opt/conda/conda-meta/history", "==> 2024 <==\n");
  root.Write("opt/conda/conda-meta/bad.json", "{not json");
  Inventory inv = Scan(root);
  ASSERT_EQ(Count(inv, kEcoConda), 2u);
  const Item* py = Find(inv, kEcoConda, "python", "/opt/conda");
  ASSERT_NE(py, nullptr);
  EXPECT_EQ(py->version, "3.11.5");
  EXPECT_EQ(py->build, "h955ad1f_0");
  EXPECT_EQ(py->channel, "https://repo.anaconda.com/pkgs/main/linux-64");
  EXPECT_EQ(Find(inv, kEcoConda, "cudatoolkit", "/opt/conda/envs/gpu")->channel, "nvidia");
  ASSERT_EQ(inv.notes.size(), 1u);
  EXPECT_NE(inv.notes[0].find("unreadable"), std::string::npos);
}

TEST(NpmScannerTest, GlobalProjectScopedNestedAndLinked) {
  TempRoot root;
  root.Write("usr/local/lib/node_modules/npm/package.json", R"({"name":"npm","version":"10.2.4"})");
  root.Write("usr/local/lib/node_modules/npm/node_modules/semver/package.json",
             R"({"name":"semver","version":"7.5.4","dependencies":{"lru-cache":"^6"}})");
  root.Write("app/node_modules/@types/node/package.json",
             R"({"name":"@types/node","version":"20.10.0"})");
  root.Write("app/node_modules/express/package.json", R"({"name":"express","version":"4.18.2"})");
  root.Write("app/node_modules/.bin/express", "#!/bin/sh\n", 0755);
  root.Write("app/node_modules/.package-lock.json", "{}");
  root.Write("app/node_modules/debug/node_modules/ms/package.json",
             R"({"name":"ms","version":"2.0.0"})");
  root.Write("app/node_modules/debug/package.json", R"({"name":"debug","version":"2.6.9"})");
  root.Write("app/node_modules/ms/package.json", R"({"name":"ms","version":"2.1.3"})");
  root.Write("work/mylib/package.json", R"({"name":"mylib","version":"0.1.0"})");
  root.Symlink("/work/mylib", "app/node_modules/mylib");  // npm link
  Inventory inv = Scan(root);
  EXPECT_EQ(Count(inv, kEcoNpm), 8u);
  EXPECT_EQ(Find(inv, kEcoNpm, "@types/node", "/app/node_modules")->version, "20.10.0");
  EXPECT_EQ(Find(inv, kEcoNpm, "ms", "/app/node_modules")->version, "2.1.3");
  EXPECT_EQ(Find(inv, kEcoNpm, "ms", "/app/node_modules/debug/node_modules")->version, "2.0.0");
  EXPECT_EQ(Find(inv, kEcoNpm, "semver")->version, "7.5.4");
  EXPECT_EQ(Find(inv, kEcoNpm, "mylib")->version, "0.1.0");
}

TEST(CudaScannerTest, SonamesAndVersionFiles) {
  TempRoot root;
  std::string lib = "usr/local/cuda-12.2/targets/x86_64-linux/lib";
  root.Write(lib + "/libcudart.so.12.2.140", "");
  root.Symlink("libcudart.so.12.2.140", lib + "/libcudart.so.12");
  root.Write(lib + "/libcublasLt.so.12.2.5.6", "");
  root.Write("usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.7", "");
  root.Write("usr/lib/x86_64-linux-gnu/libcudnn_ops_infer.so.8.9.7", "");
  root.Write("usr/lib/x86_64-linux-gnu/libnccl.so.2.18.3", "");
  root.Write("usr/lib/x86_64-linux-gnu/libnvinfer.so.8.6.1", "");
  root.Write("usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "");  // driver: not listed
  root.Write("usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0", "");      // not CUDA
  root.Write("usr/local/cuda-12.2/version.json",
             R"({"cuda":{"name":"CUDA SDK","version":"12.2.2"},"cuda_cudart":{"version":"12.2.140"}})");
  root.Symlink("cuda-12.2", "usr/local/cuda");
  root.Write("usr/include/cudnn_version.h",
             "#define CUDNN_MAJOR 8\n#define CUDNN_MINOR 9\n#define CUDNN_PATCHLEVEL 7\n"
             "#define CUDNN_VERSION (CUDNN_MAJOR * 1000)\n");
  root.Write("usr/include/nccl.h", "#define NCCL_MAJOR 2\n#define NCCL_MINOR 18\n#define NCCL_PATCH 3\n");
  Inventory inv = Scan(root);
  EXPECT_EQ(Find(inv, kEcoCuda, "libcudart")->version, "12.2.140");
  EXPECT_EQ(Find(inv, kEcoCuda, "libcudart")->location, "/" + lib);
  EXPECT_EQ(Find(inv, kEcoCuda, "libcublasLt")->version, "12.2.5.6");
  EXPECT_EQ(Find(inv, kEcoCuda, "libcudnn")->version, "8.9.7");
  EXPECT_EQ(Find(inv, kEcoCuda, "libcudnn_ops_infer")->version, "8.9.7");
  EXPECT_EQ(Find(inv, kEcoCuda, "libnccl")->version, "2.18.3");
  EXPECT_EQ(Find(inv, kEcoCuda, "libnvinfer")->version, "8.6.1");
  EXPECT_EQ(Find(inv, kEcoCuda, "libcuda"), nullptr);
  EXPECT_EQ(Find(inv, kEcoCuda, "libcurl"), nullptr);
  EXPECT_EQ(Find(inv, kEcoCuda, "cuda-toolkit")->version, "12.2.2");
  EXPECT_EQ(Find(inv, kEcoCuda, "cudnn-header")->version, "8.9.7");
  EXPECT_EQ(Find(inv, kEcoCuda, "nccl-header")->version, "2.18.3");
}

TEST(EtcScannerTest, DigestModeOwnerAndRuntimeFilesSkipped) {
  TempRoot root;
  root.Write("etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  root.Write("etc/ssl/openssl.cnf", "[x]\n", 0600);
  root.Write("etc/hosts", "127.0.0.1 localhost\n");
  root.Write("etc/resolv.conf", "nameserver 1.1.1.1\n");
  root.Write("etc/hostname", "abc\n");
  root.Symlink("/usr/share/zoneinfo/UTC", "etc/localtime");
  Inventory inv = Scan(root);
  EXPECT_EQ(Count(inv, kEcoEtc), 3u);
  const Item* cnf = Find(inv, kEcoEtc, "/etc/ssl/openssl.cnf");
  ASSERT_NE(cnf, nullptr);
  EXPECT_EQ(cnf->mode, "0600");
  EXPECT_EQ(cnf->owner, std::to_string(::getuid()) + ":" + std::to_string(::getgid()));
  EXPECT_EQ(cnf->digest, Sha256Digest("[x]\n"));
  EXPECT_EQ(Find(inv, kEcoEtc, "/etc/localtime")->digest, "link:/usr/share/zoneinfo/UTC");
  EXPECT_EQ(Find(inv, kEcoEtc, "/etc/hosts"), nullptr);
}

// An rpm header blob: il, dl, index entries, data (all big-endian).
std::string RpmHeader(const std::string& name, const std::string& version,
                      const std::string& release, const std::string& arch, int epoch) {
  struct E {
    uint32_t tag, type;
    std::string data;
  };
  std::vector<E> es = {{1000, 6, name + '\0'}, {1001, 6, version + '\0'},
                       {1002, 6, release + '\0'}, {1022, 6, arch + '\0'}};
  if (epoch >= 0) {
    uint32_t be = htonl(static_cast<uint32_t>(epoch));
    es.push_back({1003, 4, std::string(reinterpret_cast<char*>(&be), 4)});
  }
  std::string index, data;
  auto put = [](std::string& s, uint32_t v) {
    uint32_t be = htonl(v);
    s.append(reinterpret_cast<char*>(&be), 4);
  };
  for (const auto& e : es) {
    while (e.type == 4 && data.size() % 4 != 0) data += '\0';
    put(index, e.tag);
    put(index, e.type);
    put(index, static_cast<uint32_t>(data.size()));
    put(index, 1);
    data += e.data;
  }
  std::string out;
  put(out, static_cast<uint32_t>(es.size()));
  put(out, static_cast<uint32_t>(data.size()));
  return out + index + data;
}

TEST(RpmScannerTest, HeaderBlobParsing) {
  Item it;
  ASSERT_TRUE(ParseRpmHeader(RpmHeader("bash", "5.2.15", "3.el9", "x86_64", 0), &it).ok());
  EXPECT_EQ(it.name, "bash");
  EXPECT_EQ(it.version, "0:5.2.15-3.el9");
  EXPECT_EQ(it.arch, "x86_64");
  ASSERT_TRUE(ParseRpmHeader(RpmHeader("zlib", "1.2.11", "40.el9", "x86_64", -1), &it).ok());
  EXPECT_EQ(it.version, "1.2.11-40.el9");
  std::string bad = RpmHeader("x", "1", "1", "noarch", -1);
  EXPECT_FALSE(ParseRpmHeader(bad.substr(0, bad.size() - 6), &it).ok());
  EXPECT_FALSE(ParseRpmHeader("\xff\xff\xff\xff\0\0\0\0", &it).ok());
  EXPECT_FALSE(ParseRpmHeader("", &it).ok());
}

TEST(RpmScannerTest, SqliteRpmdbAndBerkeleyNote) {
  TempRoot root;
  ASSERT_TRUE(MakeDirs(root.Abs("var/lib/rpm")).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(root.Abs("var/lib/rpm/rpmdb.sqlite").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  for (const auto& blob : {RpmHeader("bash", "5.2.15", "3.el9", "x86_64", -1),
                           RpmHeader("openssl-libs", "3.0.7", "24.el9", "x86_64", 1),
                           std::string("garbage")}) {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO Packages (blob) VALUES (?)", -1, &st, nullptr),
              SQLITE_OK);
    sqlite3_bind_blob(st, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  Inventory inv = Scan(root);
  ASSERT_EQ(Count(inv, kEcoRpm), 2u);
  EXPECT_EQ(Find(inv, kEcoRpm, "openssl-libs")->version, "1:3.0.7-24.el9");
  ASSERT_EQ(inv.notes.size(), 1u);  // the garbage row

  TempRoot bdb;
  bdb.Write("var/lib/rpm/Packages", std::string(4096, '\0'));
  Inventory inv2 = Scan(bdb);
  EXPECT_EQ(Count(inv2, kEcoRpm), 0u);
  ASSERT_EQ(inv2.notes.size(), 1u);
  EXPECT_NE(inv2.notes[0].find("BerkeleyDB"), std::string::npos);
}

TEST(ImageConfigTest, EnvEntrypointAndSecrets) {
  Inventory inv;
  ASSERT_TRUE(AddImageConfig(R"({"architecture":"amd64","config":{
      "Env":["PATH=/usr/bin","HF_TOKEN=hf_abcdef","DATABASE_URL=postgres://u:pw@db/x","PWD=/w"],
      "Entrypoint":["/bin/train"],"Cmd":["--epochs","3"],"WorkingDir":"/w","User":"1000"}})",
                             inv)
                  .ok());
  EXPECT_EQ(Find(inv, kEcoConfig, "Env:PATH")->version, "/usr/bin");
  const Item* tok = Find(inv, kEcoConfig, "Env:HF_TOKEN");
  ASSERT_NE(tok, nullptr);
  EXPECT_TRUE(tok->secret);
  EXPECT_EQ(tok->version, Sha256Digest("hf_abcdef"));
  EXPECT_TRUE(Find(inv, kEcoConfig, "Env:DATABASE_URL")->secret);
  EXPECT_FALSE(Find(inv, kEcoConfig, "Env:PWD")->secret);
  EXPECT_EQ(Find(inv, kEcoConfig, "Entrypoint")->version, R"(["/bin/train"])");
  EXPECT_EQ(Find(inv, kEcoConfig, "User")->version, "1000");
  EXPECT_EQ(inv.ToJson().find("hf_abcdef"), std::string::npos);
  EXPECT_FALSE(AddImageConfig("{bad", inv).ok());
}

}  // namespace
}  // namespace ctrsnap::drift
