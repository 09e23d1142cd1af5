// The demo's container: a busybox root filesystem and an OCI bundle whose
// process does what a training job does (installs a tool, fills a pip cache,
// keeps an API key in a .env file and in its environment, writes checkpoints).
#pragma once

#include <string>

#include "common/status.h"

namespace ctrsnap::demo {

// A fake OpenAI-style key: real format, not a real key.
inline constexpr char kFakeApiKey[] =
    "sk-proj-Dm9cTr5nApDEMOa1b2c3d4e5T3BlbkFJq8w7e6r5t4y3u2i1o0pDEMOkey";

// The phases the container announces in /work/progress (one line each).
inline constexpr char kPhaseInstalled[] = "installed";
inline constexpr char kPhaseCheckpoint[] = "checkpoint-";

// What the container runs: a shell script (for /bin/sh -c), and the
// environment it needs besides the API key.
const char* TrainerScript();
inline constexpr char kTrainerPath[] = "PATH=/usr/local/bin:/bin";
inline constexpr char kTrainerHome[] = "HOME=/root";

// What the snapshot image's container runs: resumes from the last checkpoint,
// verifies one, and says whether the .env, the pip cache and the key are there.
inline constexpr char kCheckScript[] =
    "cd /work && ls; trainer \"$(ls checkpoint-*.bin | sort -t- -k2 -n | tail -n1)\";"
    " sha256sum -c checkpoint-1.sha256;"
    " [ -e /work/.env ] && echo '.env: STILL THERE' || echo '.env: not in the image';"
    " [ -e /root/.cache/pip/http/3/a/tinyml-1.4.0-py3-none-any.whl ] && echo 'pip cache: STILL THERE'"
    " || echo 'pip cache: not in the image (the directory is: '\"$(ls -d /root/.cache/pip)\"')';"
    " echo \"OPENAI_API_KEY in the image's environment: ${OPENAI_API_KEY:-no}\"";

// Builds DIR/rootfs from the host's static busybox (/bin/busybox from
// busybox-static) with one symlink per applet, /etc/passwd, /root, /tmp.
Status MakeBusyboxRootfs(const std::string& rootfs);

// Writes DIR/config.json (from `runc spec`, then edited): the training script
// as the process, OPENAI_API_KEY in its env, a writable root.
Status WriteTrainerSpec(const std::string& bundle);

// Writes a config.json into BUNDLE (an unpacked snapshot image) that runs
// COMMAND with /bin/sh -c, no terminal.
Status WriteCheckSpec(const std::string& bundle, const std::string& command);

}  // namespace ctrsnap::demo
