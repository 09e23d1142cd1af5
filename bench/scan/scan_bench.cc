// bench/scan: throughput of the secret detectors on ~200 MB of generated
// mixed content (source code, config, logs, minified JS, base64 blobs, random
// binary) with a few secrets planted, scanned as 1 MiB "files" on one core.
// Prints MB/s; also checks that the planted secrets were all found.
//
//   build-NAME/bin/scan_bench [TOTAL_MB]
#include <chrono>
#include <cstring>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "layers/policy/detector.h"

namespace {

std::string RandomAlnum(std::mt19937_64& rng, size_t n) {
  static const char kA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(n, 'a');
  for (char& c : s) c = kA[rng() % 62];
  return s;
}

std::string MakeText(std::mt19937_64& rng, size_t bytes) {
  static const char* kLines[] = {
      "def handle_request(self, request, *args, **kwargs):\n",
      "    token = request.headers.get('Authorization')\n",
      "    if not user.check_password(form.cleaned_data['password']):\n",
      "import os, sys, json  # config loader\n",
      "  password: ${DB_PASSWORD}\n",
      "2024-05-01T12:00:03Z INFO request id=4f1c2a trace=9a8b7c6d path=/api/v1/items status=200\n",
      "    \"version\": \"1.2.3\", \"resolved\": \"https://registry.npmjs.org/x/-/x-1.2.3.tgz\",\n",
      "for (let i = 0; i < items.length; ++i) { total += items[i].price * items[i].qty; }\n",
      "export PATH=/usr/local/bin:$PATH\n",
      "api_key = os.environ[\"API_KEY\"]\n",
      "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n",
      "secret_name: tls-secret\n",
      "<div class=\"container\"><a href=\"/docs/auth\">Authentication tokens</a></div>\n",
  };
  std::string s;
  s.reserve(bytes + 256);
  while (s.size() < bytes) {
    s += kLines[rng() % (sizeof(kLines) / sizeof(kLines[0]))];
    if (rng() % 40 == 0) s += "  \"integrity\": \"sha512-" + RandomAlnum(rng, 86) + "==\",\n";
  }
  s.resize(bytes);
  return s;
}

std::string MakeBinary(std::mt19937_64& rng, size_t bytes) {
  std::string s(bytes, '\0');
  for (size_t i = 0; i + 8 <= bytes; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

std::string MakeBase64(std::mt19937_64& rng, size_t bytes) {
  std::string s;
  while (s.size() < bytes) s += "  data:image/png;base64," + RandomAlnum(rng, 4000) + "\n";
  s.resize(bytes);
  return s;
}

// CPU time of this thread: the machine is shared, wall time is noisy.
double CpuSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t total_mb = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 200;
  auto det = ctrsnap::policy::Detector::Create({});
  if (!det.ok()) {
    std::fprintf(stderr, "%s\n", det.status().ToString().c_str());
    return 2;
  }
  std::mt19937_64 rng(42);
  const size_t kFile = 1 << 20;
  std::vector<std::string> files;
  const char* secrets[] = {
      "aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYzq8Kp3Lm9Q2w\n",
      "GITHUB_TOKEN=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\n",
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACD3mK\n",
      "stripe.api_key = \"sk_live_51fvJ1Fqnk6qIHlCgCYi0wYZTEWbLwVvjp3zuOl\"\n",
  };
  size_t planted = 0;
  for (size_t i = 0; i < total_mb; ++i) {
    std::string f;
    switch (i % 10) {
      case 0: case 1: case 2: case 3: case 4: case 5: f = MakeText(rng, kFile); break;
      case 6: case 7: f = MakeBinary(rng, kFile); break;
      default: f = MakeBase64(rng, kFile); break;
    }
    if (i % 25 == 0) {
      std::string s = secrets[planted % 4];
      f.replace(kFile / 2, s.size(), s);
      ++planted;
    }
    files.push_back(std::move(f));
  }
  size_t found = 0, findings = 0;
  double cat_cpu[3] = {0, 0, 0};
  size_t cat_bytes[3] = {0, 0, 0};
  auto t0 = std::chrono::steady_clock::now();
  const double c0 = CpuSeconds();
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& f = files[i];
    const int cat = i % 10 < 6 ? 0 : i % 10 < 8 ? 1 : 2;
    const double fc = CpuSeconds();
    auto out = (*det)->Scan(f, "/bench/file");
    cat_cpu[cat] += CpuSeconds() - fc;
    cat_bytes[cat] += f.size();
    findings += out.detections.size();
    for (const auto& d : out.detections) {
      if (d.rule == "secret.aws-secret-access-key" || d.rule == "secret.github-pat" ||
          d.rule == "secret.private-key-openssh" || d.rule == "secret.stripe-secret-key") {
        ++found;
        break;
      }
    }
  }
  const double cpu = CpuSeconds() - c0;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double mb = static_cast<double>(files.size() * kFile) / 1e6;
  std::printf("scanned %.1f MB (60%% text, 20%% binary, 20%% base64) on one thread: "
              "%.3f s CPU = %.1f MB/s per core (wall %.3f s = %.1f MB/s)\n",
              mb, cpu, mb / cpu, secs, mb / secs);
  const char* names[3] = {"text", "binary", "base64"};
  for (int c = 0; c < 3; ++c) {
    std::printf("  %-7s %.1f MB/s per core\n", names[c], static_cast<double>(cat_bytes[c]) / 1e6 / cat_cpu[c]);
  }
  std::printf("planted secrets found: %zu/%zu; findings in total: %zu; rules: %zu\n", found, planted,
              findings, ctrsnap::policy::Detector::Catalog().size());
  return found == planted ? 0 : 1;
}
