// The per-ecosystem scanners behind ScanRoot (scan_root.h). Internal to
// ctrsnap_drift; declared here so tests can drive one scanner at a time.
//
// Contract shared by all scanners: ROOTFD is the container root; every path
// is relative to it (resolved with OpenInRoot or no-follow *at() calls);
// items are appended to INV; a missing database is not an error, a
// malformed one adds a note to INV and the scan goes on. Only package
// databases are read: no package manager is ever run.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"
#include "layers/drift/inventory.h"

namespace ctrsnap::drift {

// Directories of interest found by one bounded walk of the root.
// Paths are relative to the root, without a leading '/'.
struct WalkResult {
  std::vector<std::string> site_dirs;          // .../site-packages, .../dist-packages
  std::vector<std::string> conda_meta_dirs;    // ENV/conda-meta
  std::vector<std::string> node_modules_dirs;  // PROJECT/node_modules (outermost)
  std::vector<std::string> cuda_files;         // lib dirs' CUDA-family sonames, full rel path
  size_t dirs_visited = 0;
  bool truncated = false;  // hit max_dirs
};

struct WalkOptions {
  int max_depth = 10;
  size_t max_dirs = 200000;
};

WalkResult WalkRoot(int rootfd, const WalkOptions& options);

void ScanDpkg(int rootfd, Inventory& inv);
void ScanApk(int rootfd, Inventory& inv);
void ScanRpm(int rootfd, Inventory& inv);
void ScanPythonSiteDir(int rootfd, const std::string& site_dir, Inventory& inv);
void ScanCondaMeta(int rootfd, const std::string& conda_meta_dir, Inventory& inv);
void ScanNodeModules(int rootfd, const std::string& node_modules_dir, Inventory& inv);
void AddCudaLibraries(const std::vector<std::string>& files, Inventory& inv);
void ScanCudaHeaders(int rootfd, Inventory& inv);
void ScanEtc(int rootfd, Inventory& inv);

// Parsers exposed for tests.
// "Key: value" header block of a METADATA / PKG-INFO file (stops at the first blank line).
void ParseCoreMetadata(std::string_view text, std::string* name, std::string* version);
// PEP 503: lowercase, runs of "-", "_", "." become one "-".
std::string NormalizePythonName(std::string_view name);
// Appends the installed packages of a dpkg status file (or a status.d file,
// whose paragraphs need no Status field when STATUS_OPTIONAL).
void ParseDpkgStatus(std::string_view text, bool status_optional, Inventory& inv);
void ParseApkInstalled(std::string_view text, Inventory& inv);
// Parses an rpm header blob (as stored in rpmdb.sqlite's Packages table).
Status ParseRpmHeader(std::string_view blob, Item* item);
// "libcudnn_ops_infer.so.8.9.7" -> name "libcudnn_ops_infer", version "8.9.7".
bool MatchCudaLibrary(std::string_view file_name, std::string* name, std::string* version);

}  // namespace ctrsnap::drift
