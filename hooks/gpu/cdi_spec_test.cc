#include "hooks/gpu/cdi_spec.h"

#include <gtest/gtest.h>

namespace ctrsnap::gpu {
namespace {

constexpr char kYaml[] = R"(
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: 0
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
      hostPath: /dev/nvidia0
      fileMode: 0666
- name: all
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
containerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  mounts:
  - hostPath: /usr/lib/libcuda.so.1
    containerPath: /usr/lib/libcuda.so.1
    options: [ro, nosuid, nodev, bind]
  hooks:
  - hookName: createContainer
    path: /usr/bin/ctrsnap
    args: [ctrsnap, gpu, hook, update-ldcache]
    timeout: 10
)";

TEST(CdiSpec, ParsesYaml) {
  auto s = ParseCdiSpec(kYaml, "t.yaml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->vendor, "nvidia.com");
  EXPECT_EQ(s->cls, "gpu");
  ASSERT_EQ(s->devices.size(), 2u);
  EXPECT_EQ(s->devices[0].name, "0");  // a plain YAML number is still a device name
  EXPECT_EQ(s->devices[0].edits.device_nodes[0].file_mode, 0666u);
  EXPECT_EQ(s->edits.mounts[0].options.size(), 4u);
  EXPECT_EQ(s->edits.hooks[0].timeout, 10);
}

TEST(CdiSpec, JsonRoundTripAndYamlEmitter) {
  auto s = ParseCdiSpec(kYaml, "t.yaml");
  ASSERT_TRUE(s.ok());
  auto j = CdiSpecToJson(*s);
  auto again = ParseCdiSpec(j.dump(), "t.json");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(CdiSpecToJson(*again), j);
  auto from_yaml = ParseCdiSpec(JsonToYaml(j), "t2.yaml");
  ASSERT_TRUE(from_yaml.ok()) << from_yaml.status().ToString() << "\n" << JsonToYaml(j);
  EXPECT_EQ(CdiSpecToJson(*from_yaml), j);
}

TEST(CdiSpec, VersionsAcceptedAndFeaturesChecked) {
  for (const char* v : {"0.3.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"}) {
    std::string text = R"({"cdiVersion":")" + std::string(v) +
                       R"(","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"env":["A=1"]}}]})";
    EXPECT_TRUE(ParseCdiSpec(text, "v").ok()) << v;
  }
  EXPECT_FALSE(ParseCdiSpec(R"({"cdiVersion":"2.0.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"env":["A=1"]}}]})", "v").ok());
  // hostPath needs 0.5.0.
  auto old = ParseCdiSpec(R"({"cdiVersion":"0.4.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"deviceNodes":[{"path":"/dev/x","hostPath":"/dev/y"}]}}]})", "v");
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("0.5.0"), std::string::npos);
  // additionalGids need 0.7.0; netDevices need 1.1.0.
  EXPECT_FALSE(ParseCdiSpec(R"({"cdiVersion":"0.6.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"additionalGids":[5]}}]})", "v").ok());
  EXPECT_TRUE(ParseCdiSpec(R"({"cdiVersion":"0.7.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"additionalGids":[5]}}]})", "v").ok());
  EXPECT_FALSE(ParseCdiSpec(R"({"cdiVersion":"1.0.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"netDevices":[{"hostInterfaceName":"a","name":"b"}]}}]})", "v").ok());
}

TEST(CdiSpec, RejectsInvalidSpecs) {
  const char* bad[] = {
      "",                                                  // empty
      "{",                                                 // malformed JSON
      "key: [unclosed",                                    // malformed YAML
      R"({"cdiVersion":"0.5.0","kind":"nokind","devices":[{"name":"x","containerEdits":{"env":["A=1"]}}]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","devices":[]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","devices":[{"name":"-x","containerEdits":{"env":["A=1"]}}]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{}}]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"env":["=1"]}}]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"deviceNodes":[{"path":"/d","type":"z"}]}}]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"deviceNodes":[{"path":"/d","permissions":"rx"}]}}]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"hooks":[{"hookName":"bogus","path":"/x"}]}}]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"mounts":[{"hostPath":"","containerPath":"/x"}]}}]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"env":["A=1"]}},{"name":"x","containerEdits":{"env":["A=1"]}}]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","unknownField":1,"devices":[{"name":"x","containerEdits":{"env":["A=1"]}}]})",
      R"({"cdiVersion":"0.5.0","kind":"a.com/b","devices":[{"name":"x","containerEdits":{"deviceNodes":[{"path":"/d","major":"x"}]}}]})",
      R"({"cdiVersion":5,"kind":"a.com/b","devices":[]})",
      "- a\n- b\n",
  };
  for (const char* text : bad) {
    auto s = ParseCdiSpec(text, "bad");
    EXPECT_FALSE(s.ok()) << text;
    if (!s.ok()) {
      EXPECT_NE(s.status().message().find("bad"), std::string::npos) << s.status().message();
    }
  }
}

TEST(CdiSpec, YamlFlowMappingIsNotMistakenForJson) {
  auto s = ParseCdiSpec("{cdiVersion: 0.6.0, kind: a.com/b, devices: [{name: x, containerEdits: {env: [A=1]}}]}", "flow");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->devices[0].edits.env[0], "A=1");
}

TEST(CdiSpec, QualifiedNames) {
  auto q = ParseQualifiedName("nvidia.com/gpu=GPU-1234:0");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->vendor, "nvidia.com");
  EXPECT_EQ(q->cls, "gpu");
  EXPECT_EQ(q->name, "GPU-1234:0");
  for (const char* bad : {"", "gpu0", "/dev/nvidia0", "nvidia.com/gpu", "nvidia.com/gpu=", "=x",
                          "nvidia.com=gpu/0", "nvidia.com/gpu=a b", "1vendor/c=x", "v/c=x-"}) {
    EXPECT_FALSE(ParseQualifiedName(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace ctrsnap::gpu
