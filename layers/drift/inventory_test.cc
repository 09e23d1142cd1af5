#include "layers/drift/inventory.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ctrsnap::drift {
namespace {

Inventory Sample(size_t n) {
  Inventory inv;
  inv.source = "dir:/x";
  for (size_t k = 0; k < n; ++k) {
    Item it;
    it.ecosystem = k % 2 ? kEcoDeb : kEcoPython;
    it.name = "pkg" + std::to_string(n - k);
    it.version = "1." + std::to_string(k);
    it.location = k % 2 ? "" : "/usr/local";
    inv.items.push_back(it);
  }
  inv.AddNote("rpm: skipped");
  inv.Normalize();
  return inv;
}

TEST(InventoryTest, JsonRoundTripIsExactAndDeterministic) {
  Inventory inv = Sample(50);
  Item e;
  e.ecosystem = kEcoEtc;
  e.name = "/etc/passwd";
  e.digest = Sha256Digest("x");
  e.mode = "0644";
  e.owner = "0:0";
  inv.items.push_back(e);
  Item s;
  s.ecosystem = kEcoConfig;
  s.name = "Env:TOKEN";
  s.version = Sha256Digest("secret");
  s.secret = true;
  inv.items.push_back(s);
  inv.Normalize();
  auto back = Inventory::FromJson(inv.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), inv.ToJson());
  EXPECT_EQ(back->Digest(), inv.Digest());
  EXPECT_EQ(back->items.size(), 52u);
}

TEST(InventoryTest, NormalizeSortsAndDropsDuplicateKeys) {
  Inventory inv;
  for (const char* n : {"b", "a", "b"}) {
    Item it;
    it.ecosystem = kEcoDeb;
    it.name = n;
    it.version = n;
    inv.items.push_back(it);
  }
  inv.Normalize();
  ASSERT_EQ(inv.items.size(), 2u);
  EXPECT_EQ(inv.items[0].name, "a");
}

TEST(InventoryTest, SummaryIsAnnotationSized) {
  Inventory inv = Sample(2000);
  std::string summary = inv.SummaryJson();
  EXPECT_LT(summary.size(), 1024u);
  auto j = nlohmann::json::parse(summary);
  EXPECT_EQ(j["digest"], inv.Digest());
  EXPECT_EQ(j["counts"]["deb"], 1000);
  EXPECT_EQ(j["counts"]["python"], 1000);
}

TEST(InventoryTest, MalformedJsonIsAnErrorNotACrash) {
  for (const char* bad : {"", "[]", "{", R"({"format":1})", R"({"format":2,"items":[]})",
                          R"({"format":1,"items":[{"eco":1}]})", R"({"format":1,"items":7})"}) {
    EXPECT_FALSE(Inventory::FromJson(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace ctrsnap::drift
