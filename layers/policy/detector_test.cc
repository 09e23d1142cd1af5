// Table-driven: each provider's format with a positive example and a
// near-miss that must not fire. Values are generated here (fake, random).
#include "layers/policy/detector.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <set>

#include "layers/policy/value_checks.h"

namespace ctrsnap::policy {
namespace {

const char kB62[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const char kHex[] = "0123456789abcdef";
const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const char kUpper32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const char kTok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

std::string Rnd(size_t n, const char* alphabet, uint64_t seed) {
  std::mt19937_64 rng(seed);
  size_t k = std::strlen(alphabet);
  std::string s(n, ' ');
  for (char& c : s) c = alphabet[rng() % k];
  return s;
}

std::string Crc(const std::string& prefix, uint64_t seed) {
  std::string r = Rnd(30, kB62, seed);
  static const char kA[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  uint64_t n = crc32(0, reinterpret_cast<const Bytef*>(r.data()), 30);
  std::string enc(6, '0');
  for (int i = 5; i >= 0; --i) {
    enc[static_cast<size_t>(i)] = kA[n % 62];
    n /= 62;
  }
  return prefix + r + enc;
}

std::string B64(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(kB64[(v >> (6 * k)) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {kB64[(v >> 18) & 63], kB64[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kB64[(v >> 18) & 63], kB64[(v >> 12) & 63], kB64[(v >> 6) & 63], '='};
  }
  return out;
}

std::string Pem(const std::string& type, uint64_t seed) {
  std::string body;
  for (int i = 0; i < 6; ++i) body += Rnd(64, kB64, seed + i) + "\n";
  return "-----BEGIN " + type + "-----\n" + body + "-----END " + type + "-----\n";
}

struct Case {
  std::string rule;      // expected rule, without "secret."
  std::string positive;  // text that must produce RULE
  std::string negative;  // near miss: must produce no finding at all
  std::string path = "/app/file.txt";
};

std::vector<Case> Cases() {
  const std::string jwt_h = B64(R"({"alg":"RS256","typ":"JWT"})");
  const std::string jwt_p = B64(R"({"sub":"42","iat":1700000000})");
  auto nopad = [](std::string s) {
    while (!s.empty() && s.back() == '=') s.pop_back();
    for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return s;
  };
  const std::string jwt = "eyJ" + nopad(jwt_h).substr(3) + "." + nopad(jwt_p) + "." + Rnd(43, kTok, 7);
  return {
      {"aws-access-key-id", "key_id: AKIA" + Rnd(16, kUpper32, 1) + "\n", "key_id: AKIAIOSFODNN7EXAMPLE\n"},
      {"aws-secret-access-key", "aws_secret_access_key = " + Rnd(40, kB62, 2) + "\n",
       "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}\n"},
      {"aws-session-token", "aws_session_token=" + Rnd(300, kB64, 3) + "\n", "aws_session_token=\n"},
      {"gcp-api-key", "const k = \"AIza" + Rnd(35, kTok, 4) + "\";\n", "const k = \"AIzaSyXXXXXXXX\";\n"},
      {"gcp-service-account-key-id", "\"private_key_id\": \"" + Rnd(40, kHex, 5) + "\",\n",
       "\"private_key_id\": \"\",\n"},
      {"gcp-oauth-client-secret", "secret: GOCSPX-" + Rnd(28, kTok, 6) + "\n", "secret: GOCSPX-\n"},
      {"azure-storage-key",
       "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=" + Rnd(86, kB64, 8) + "==;\n",
       "\"integrity\": \"sha512-" + Rnd(86, kB64, 8) + "==\"\n"},
      {"azure-connection-string",
       "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=" +
           Rnd(44, kB64, 9) + "\n",
       "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root\n"},
      {"azure-ad-client-secret", "AZURE_CLIENT_SECRET_VALUE " + Rnd(3, kB62, 10) + "8Q~" + Rnd(34, kB62, 11) + "\n",
       "version 8Q~ released\n"},
      {"alibaba-access-key-id", "id = LTAI" + Rnd(20, kB62, 12) + "\n", "id = LTAI\n"},
      {"tencent-secret-id", "SecretId: AKID" + Rnd(32, kB62, 13) + "\n", "SecretId: AKID\n"},
      {"baidu-access-key", "BCE_SECRET_KEY=" + Rnd(32, kB62, 14) + "\n", "BCE_SECRET_KEY=\n"},
      {"digitalocean-pat", "do_token = \"dop_v1_" + Rnd(64, kHex, 15) + "\"\n", "dop_v1_ prefix\n"},
      {"databricks-token", "token = dapi" + Rnd(32, kHex, 16) + "\n", "token = dapi\n"},
      {"vault-service-token", "VAULT_TOKEN=hvs." + Rnd(95, kTok, 17) + "\n", "VAULT_TOKEN=hvs.short\n"},
      {"github-pat", "GITHUB_TOKEN=" + Crc("ghp_", 18) + "\n",
       "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"},
      {"github-oauth", "oauth_token: " + Crc("gho_", 19) + "\n", "oauth_token: gho_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"},
      {"github-app-token", "x " + Crc("ghs_", 20) + "\n", "x ghs_1234567890\n"},
      {"github-fine-grained-pat", "t=github_pat_" + Rnd(22, kB62, 21) + "_" + Rnd(59, kB62, 22) + "\n",
       "t=github_pat_\n"},
      {"gitlab-pat", "GITLAB_TOKEN: glpat-" + Rnd(20, kTok, 23) + "\n", "GITLAB_TOKEN: glpat-\n"},
      {"gitlab-runner-token", "token = \"glrt-" + Rnd(24, kTok, 24) + "\"\n", "see glrt- docs\n"},
      {"bitbucket-app-password", "pw ATBB" + Rnd(32, kB62, 25) + "\n", "ATBB\n"},
      {"npm-token", "//registry.npmjs.org/:_authToken=" + Crc("npm_", 26) + "\n",
       "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", "/root/.npmrc"},
      {"pypi-token", "password = pypi-AgEIcHlwaS5vcmc" + Rnd(70, kTok, 27) + "\n", "password = pypi-\n"},
      {"rubygems-token", ":rubygems_api_key: rubygems_" + Rnd(48, kHex, 28) + "\n", ":rubygems_api_key:\n"},
      {"nuget-api-key", "apikey oy2" + Rnd(43, "abcdefghijklmnopqrstuvwxyz0123456789", 29) + "\n", "oy2 is a word\n"},
      {"dockerhub-pat", "DOCKER_PAT=dckr_pat_" + Rnd(27, kTok, 30) + "\n", "DOCKER_PAT=dckr_pat_\n"},
      {"docker-config-auth", "{\"auths\":{\"r.io\":{\"auth\":\"" + B64("ci-bot:" + Rnd(16, kB62, 31)) + "\"}}}\n",
       "{\"auths\":{\"r.io\":{\"auth\":\"" + B64("just-a-user") + "\"}}}\n", "/root/.docker/config.json"},
      {"openai-api-key", "OPENAI_API_KEY=sk-proj-" + Rnd(40, kTok, 32) + "T3BlbkFJ" + Rnd(40, kTok, 33) + "\n",
       "OPENAI_API_KEY=sk-...\n"},
      {"anthropic-api-key", "key = \"sk-ant-api03-" + Rnd(93, kTok, 34) + "AA\"\n", "key = \"sk-ant-api03-...\"\n"},
      {"huggingface-token", "HF_TOKEN=hf_" + Rnd(34, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 35) + "\n",
       "HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"},
      {"replicate-token", "REPLICATE_API_TOKEN=r8_" + Rnd(37, kB62, 36) + "\n", "REPLICATE_API_TOKEN=r8_\n"},
      {"groq-api-key", "GROQ_API_KEY=gsk_" + Rnd(52, kB62, 37) + "\n", "GROQ_API_KEY=gsk_\n"},
      {"cohere-api-key", "COHERE_API_KEY=" + Rnd(40, kB62, 38) + "\n", "COHERE_API_KEY=\n"},
      {"stripe-secret-key", "stripe.api_key = \"sk_live_" + Rnd(40, kB62, 39) + "\"\n",
       "Stripe(\"pk_live_" + Rnd(24, kB62, 39) + "\")\n"},
      {"stripe-webhook-secret", "whsec_" + Rnd(32, kB62, 40) + "\n", "whsec_\n"},
      {"square-access-token", "SQUARE=sq0atp-" + Rnd(22, kTok, 41) + "\n", "SQUARE=sq0atp-\n"},
      {"braintree-access-token", "access_token$production$" + Rnd(16, "abcdefghijklmnopqrstuvwxyz0123456789", 42) + "$" + Rnd(32, kHex, 43) + "\n",
       "access_token$sandbox$x\n"},
      {"shopify-access-token", "TOKEN = \"shpat_" + Rnd(32, kHex, 44) + "\"\n", "TOKEN = \"shpat_\"\n"},
      {"slack-bot-token", "bot_token: xoxb-" + Rnd(12, "0123456789", 45) + "-" + Rnd(13, "0123456789", 46) + "-" + Rnd(24, kB62, 47) + "\n",
       "bot_token: xoxb-your-bot-token\n"},
      {"slack-webhook", "url = \"https://hooks.slack.com/services/T" + Rnd(10, kUpper32, 48) + "/B" + Rnd(10, kUpper32, 49) + "/" + Rnd(24, kB62, 50) + "\"\n",
       "url = \"https://hooks.slack.com/services/...\"\n"},
      {"discord-webhook", "https://discord.com/api/webhooks/918273645501928374/" + Rnd(68, kTok, 51) + "\n",
       "https://discord.com/api/webhooks/\n"},
      {"telegram-bot-token", "TELEGRAM_BOT_TOKEN=581920374:AA" + Rnd(33, kTok, 52) + "\n", "time 12:34:56\n"},
      {"twilio-api-key", "sid SK" + Rnd(32, kHex, 53) + "\n", "SKIP this\n"},
      {"twilio-auth-token", "auth_token = '" + Rnd(32, kHex, 54) + "'\n", "auth_token = ''\n"},
      {"sendgrid-api-key", "SG." + Rnd(22, kTok, 55) + "." + Rnd(43, kTok, 56) + "\n", "SG.example\n"},
      {"mailgun-api-key", "MAILGUN=key-" + Rnd(32, kHex, 57) + "\n", "primary-key-index\n"},
      {"jwt", "Authorization: Bearer " + jwt + "\n", "token prefix eyJhbGciOiJIUzI1NiJ9.\n"},
      {"db-connection-string", "DATABASE_URL=postgres://app:" + Rnd(20, kB62, 58) + "@db:5432/app\n",
       "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app\n"},
      {"db-connection-string", "mongodb+srv://u:" + Rnd(16, kB62, 59) + "@c.mongodb.net/x\n",
       "mongodb+srv://c.mongodb.net/x\n"},
      {"db-connection-string", "redis://:" + Rnd(16, kB62, 60) + "@cache:6379/0\n", "redis://cache:6379/0\n"},
      {"db-connection-string", "amqp://guest:" + Rnd(16, kB62, 61) + "@mq:5672/\n", "amqp://mq:5672/\n"},
      {"url-credentials", "--extra-index-url https://u:" + Rnd(20, kB62, 62) + "@pypi.corp/simple\n",
       "--extra-index-url https://pypi.corp/simple\n"},
      {"netrc-password-line", "machine x\n  login me\n  password " + Rnd(20, kB62, 63) + "\n",
       "machine x\n  login me\n", "/root/.netrc"},
      {"redis-requirepass", "requirepass " + Rnd(24, kB62, 64) + "\n", "# requirepass foobared\n"},
      {"cli-password", "mysql -u root -p'" + Rnd(16, kB62, 65) + "' shop\n", "mysql -u root -p shop\n"},
      {"cli-password", "curl -u admin:" + Rnd(16, kB62, 66) + " https://x\n", "curl -u admin https://x\n"},
      {"django-secret-key", "SECRET_KEY = 'django-insecure-" + Rnd(50, "abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)", 67) + "'\n",
       "SECRET_KEY = os.environ['SECRET_KEY']\n"},
      {"private-key-rsa", Pem("RSA PRIVATE KEY", 68), "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n"},
      {"private-key-ec", Pem("EC PRIVATE KEY", 69), "-----BEGIN EC PRIVATE KEY-----\n<key>\n"},
      {"private-key-dsa", Pem("DSA PRIVATE KEY", 70), "BEGIN DSA PRIVATE KEY\n"},
      {"private-key-pkcs8", Pem("PRIVATE KEY", 71), Pem("PUBLIC KEY", 71)},
      {"private-key-pkcs8-encrypted", Pem("ENCRYPTED PRIVATE KEY", 72), Pem("CERTIFICATE", 72)},
      {"private-key-openssh", Pem("OPENSSH PRIVATE KEY", 73), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI me@host\n"},
      {"private-key-pgp", "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n" + Rnd(64, kB64, 74) + "\n" + Rnd(64, kB64, 75) + "\n",
       "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + Rnd(64, kB64, 74) + "\n"},
      {"private-key-putty", "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\n" + Rnd(64, kB64, 76) + "\nPrivate-Lines: 1\n" + Rnd(64, kB64, 77) + "\n",
       "PuTTY-User-Key-File-3: ssh-ed25519\nPublic-Lines: 2\n"},
      {"generic-secret-assignment", "spring.datasource.password=" + Rnd(10, kB62, 78) + "@!\n",
       "spring.datasource.password=${DB_PASSWORD}\n"},
      {"generic-secret-assignment", "  \"client_secret\": \"" + Rnd(24, kB62, 79) + "\",\n",
       "  \"client_secret\": \"please set me in the vault\",\n"},
      {"aws-secret-next-to-key-id", "user,,AKIA" + Rnd(16, kUpper32, 81) + "," + Rnd(40, kB62, 82) + "\n",
       "user,,AKIA" + Rnd(12, kUpper32, 81) + "," + Rnd(40, kB62, 82) + "\n"},
      {"xml-secret-element", "<server><id>corp</id><password>" + Rnd(18, kB62, 83) + "!</password></server>\n",
       "<server><password>${env.MAVEN_PASSWORD}</password></server>\n"},
      {"xml-secret-attribute", "<add key=\"ClearTextPassword\" value=\"" + Rnd(20, kB62, 84) + "\" />\n",
       "<add key=\"ClearTextPassword\" value=\"%NUGET_PASSWORD%\" />\n"},
      {"php-define-secret", "define('AUTH_KEY', '" + Rnd(40, kB62, 85) + "#');\n",
       "define('AUTH_KEY', 'put your unique phrase here');\n"},
      {"sql-identified-by", "CREATE USER app IDENTIFIED BY '" + Rnd(14, kB62, 86) + "';\n",
       "CREATE USER app IDENTIFIED BY 'password';\n"},
      {"generic-secret-assignment", "export DB_PASS=" + Rnd(14, kB62, 87) + "\n", "compass_dir=/usr/share/compass\n"},
      {"generic-secret-assignment", "  stripe_key: \"" + Rnd(30, kB62, 88) + "\"\n", "  primary_key: \"user_id_and_tenant_id\"\n"},
      {"age-secret-key", "AGE-SECRET-KEY-1" + Rnd(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 80) + "\n", "AGE-SECRET-KEY-1\n"},
  };
}

class DetectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto d = Detector::Create({});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    det_ = std::move(*d).release();
  }
  static void TearDownTestSuite() { delete det_; }
  static std::set<std::string> Rules(std::string_view text, std::string_view path = "/app/f") {
    std::set<std::string> out;
    for (const Detection& d : det_->Scan(text, path).detections) out.insert(d.rule);
    return out;
  }
  static Detector* det_;
};
Detector* DetectorTest::det_ = nullptr;

TEST_F(DetectorTest, AtLeastEightyRules) {
  auto catalog = Detector::Catalog();
  EXPECT_GE(catalog.size(), 80u);
  std::set<std::string> ids;
  for (const auto& r : catalog) EXPECT_TRUE(ids.insert(r.id).second) << "duplicate " << r.id;
}

TEST_F(DetectorTest, EachProviderPositiveAndNearMiss) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.rule);
    auto pos = Rules(c.positive, c.path);
    EXPECT_TRUE(pos.count("secret." + c.rule)) << "missed in: " << c.positive.substr(0, 120);
    auto neg = Rules(c.negative, c.path);
    EXPECT_TRUE(neg.empty()) << "false positive " << (neg.empty() ? "" : *neg.begin())
                             << " in: " << c.negative.substr(0, 120);
  }
}

TEST_F(DetectorTest, FindingHasLineMaskAndFingerprintNeverTheValue) {
  std::string value = Rnd(40, kB62, 100);
  std::string text = "a\nb\nAWS_SECRET_ACCESS_KEY=" + value + "\n";
  auto out = det_->Scan(text, "/x");
  ASSERT_EQ(out.detections.size(), 1u);
  const Detection& d = out.detections[0];
  EXPECT_EQ(d.rule, "secret.aws-secret-access-key");
  EXPECT_EQ(d.line, 3u);
  EXPECT_EQ(d.masked, MaskValue(value));
  EXPECT_EQ(d.fingerprint, Fingerprint(value));
  EXPECT_EQ(d.masked.find(value), std::string::npos);
  EXPECT_EQ(d.reason.find(value), std::string::npos);
}

TEST_F(DetectorTest, GithubTokenChecksumCutsLowEntropyFakes) {
  EXPECT_TRUE(Rules("t " + Crc("ghp_", 101) + "\n").count("secret.github-pat"));
  // Right shape, wrong checksum, low entropy: a made-up sample.
  EXPECT_TRUE(Rules("t ghp_ABCDABCDABCDABCDABCDABCDABCDABCDABCD\n").empty());
}

TEST_F(DetectorTest, DisabledRulesAreSkipped) {
  DetectorOptions o;
  o.disabled_rules = {"secret.github-pat"};
  auto d = Detector::Create(o);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE((*d)->Scan("x " + Crc("ghp_", 102) + "\n", "/f").detections.empty());
}

TEST_F(DetectorTest, GzipContentIsInflatedAndScanned) {
  std::string plain = "2024 INFO login ok\nexport GITHUB_TOKEN=" + Crc("ghp_", 103) + "\n";
  uLongf n = compressBound(plain.size()) + 64;
  std::string gz(n, '\0');
  z_stream zs{};
  ASSERT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(plain.data());
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(gz.data());
  zs.avail_out = static_cast<uInt>(gz.size());
  ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  gz.resize(zs.total_out);
  deflateEnd(&zs);
  auto out = det_->Scan(gz, "/var/log/app.log.1.gz");
  ASSERT_EQ(out.detections.size(), 1u);
  EXPECT_EQ(out.detections[0].rule, "secret.github-pat");
  EXPECT_EQ(out.detections[0].line, 2u);

  DetectorOptions o;
  o.max_inflate_bytes = 10;  // bound hit: reported, not silently ignored
  auto small = Detector::Create(o);
  ASSERT_TRUE(small.ok());
  auto cut = (*small)->Scan(gz, "/x.gz");
  EXPECT_FALSE(cut.limits.empty());
}

TEST_F(DetectorTest, Base64WrappedPrivateKeyIsDecoded) {
  std::string kube = "users:\n- name: admin\n  user:\n    client-key-data: " + B64(Pem("RSA PRIVATE KEY", 104)) + "\n";
  auto rules = Rules(kube, "/root/.kube/config");
  EXPECT_TRUE(rules.count("secret.private-key-rsa"));
  // A base64 certificate (public) in the same place is not a secret.
  std::string ca = "    certificate-authority-data: " + B64(Pem("CERTIFICATE", 105)) + "\n";
  EXPECT_TRUE(Rules(ca, "/root/.kube/config").empty());
}

TEST_F(DetectorTest, JsonEscapedNotebookAndServiceAccount) {
  std::string nb = "{\"cells\":[{\"source\":[\"import openai\\n\",\"openai.api_key = \\\"" +
                   Rnd(8, kB62, 106) + "#" + Rnd(12, kB62, 107) + "\\\"\\n\"]}]}\n";
  EXPECT_TRUE(Rules(nb, "/app/n.ipynb").count("secret.generic-secret-assignment"));
  std::string pem = Pem("PRIVATE KEY", 108);
  std::string escaped;
  for (char c : pem) escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
  std::string sa = "{\"type\": \"service_account\", \"private_key\": \"" + escaped + "\"}\n";
  EXPECT_TRUE(Rules(sa, "/app/sa.json").count("secret.private-key-pkcs8"));
}

TEST_F(DetectorTest, SecretsInsideBinaries) {
  std::string bin(4096, '\0');
  for (size_t i = 0; i < bin.size(); ++i) bin[i] = static_cast<char>((i * 7919) & 0xff);
  std::string token = Crc("ghp_", 109);
  bin.replace(1000, token.size() + 2, "\x01" + token + "\x00");
  EXPECT_TRUE(Rules(bin, "/app/__pycache__/m.cpython-311.pyc").count("secret.github-pat"));
}

TEST_F(DetectorTest, DecoysStayQuiet) {
  const char* decoys[] = {
      "sha256sum 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  file\n",
      "550e8400-e29b-41d4-a716-446655440000\n",
      "password: ${POSTGRES_PASSWORD}\n",
      "token = request.headers.get('Authorization')\n",
      "secretName: tls-secret\n",
      "\"password_hint\": \"Use at least 12 characters\"\n",
      "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n",
      "api_key = os.environ[\"API_KEY\"]\n",
      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
      "\"key\": \"5045d6ede864c4c3f4d17b5768df5c3c0da16ffecd22b5046d11e10df3be0463\"\n",
      "  - name: API_TOKEN\n    valueFrom:\n      secretKeyRef: {name: api, key: token}\n",
  };
  for (const char* d : decoys) EXPECT_TRUE(Rules(d).empty()) << d;
}

TEST_F(DetectorTest, HostileInputStaysBounded) {
  // Long runs that partially match many rules: linear engines, bounded windows.
  std::string s = "password=" + std::string(1 << 20, 'A') + "\n" + std::string(1 << 20, '=') +
                  "-----BEGIN RSA PRIVATE KEY-----" + std::string(1 << 16, '\n');
  auto out = det_->Scan(s, "/x");
  EXPECT_TRUE(out.detections.empty());
}

}  // namespace
}  // namespace ctrsnap::policy
