// toml++'s implementation, compiled once into ctrsnap_install (instead of
// linking libtomlplusplus3) so that the binaries copied onto Kubernetes nodes
// need no library beyond libc/libstdc++.
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
