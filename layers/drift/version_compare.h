// Version ordering per ecosystem. Each function returns <0, 0 or >0 like
// strcmp and is total: a string its grammar does not accept is compared with
// the RPM algorithm (which orders any string sensibly) instead of failing.
#pragma once

#include <string_view>

namespace ctrsnap::drift {

// dpkg: [epoch:]upstream[-revision], '~' sorts before everything, even the end.
int CompareDebian(std::string_view a, std::string_view b);
// rpm: [epoch:]version[-release], rpmvercmp with '~' (pre) and '^' (post).
int CompareRpm(std::string_view a, std::string_view b);
// PEP 440: [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], with the spec's
// normalizations (alpha/beta/c/pre/preview, -N post, rev/r, separators).
int ComparePep440(std::string_view a, std::string_view b);
// SemVer 2.0 (npm): [v]MAJOR.MINOR.PATCH[-pre.release][+build]; build ignored.
int CompareSemver(std::string_view a, std::string_view b);
// apk: 1.2.3[letter][_suffixN...][-rN], _alpha<_beta<_pre<_rc<(none)<_cvs<_svn<_git<_hg<_p.
int CompareApk(std::string_view a, std::string_view b);
// Dotted numeric (library sonames, CUDA versions): numeric segment by segment.
int CompareDotted(std::string_view a, std::string_view b);

// Dispatches on the ecosystem name (inventory.h); conda uses the RPM order.
int CompareVersions(std::string_view ecosystem, std::string_view a, std::string_view b);

}  // namespace ctrsnap::drift
