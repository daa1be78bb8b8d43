#include "server/text_exposition.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vhostd {
namespace {

std::string RenderDouble(double value) {
  std::string out;
  TextExposition(&out).Sample("m", "", value);
  return out;
}

// The value part of a rendered "m <value>\n" line.
std::string ValueOf(const std::string& line) {
  EXPECT_EQ(line.substr(0, 2), "m ");
  EXPECT_EQ(line.back(), '\n');
  return line.substr(2, line.size() - 3);
}

TEST(TextExpositionTest, FamilyWritesHelpAndType) {
  std::string out;
  TextExposition(&out).Family("vhostd_port_rx_packets_total", "Packets received.", "counter");
  EXPECT_EQ(out,
            "# HELP vhostd_port_rx_packets_total Packets received.\n"
            "# TYPE vhostd_port_rx_packets_total counter\n");
}

TEST(TextExpositionTest, FamilyEscapesBackslashAndNewlineInHelp) {
  std::string out;
  TextExposition(&out).Family("m", "a\\b\nc \"quoted\"", "gauge");
  // HELP escapes only backslash and newline; double quotes stay as they are.
  EXPECT_EQ(out, "# HELP m a\\\\b\\nc \"quoted\"\n# TYPE m gauge\n");
}

TEST(TextExpositionTest, FamilyWithEmptyHelp) {
  std::string out;
  TextExposition(&out).Family("m", "", "histogram");
  EXPECT_EQ(out, "# HELP m \n# TYPE m histogram\n");
}

TEST(TextExpositionTest, AppendsToExistingOutput) {
  std::string out = "previous\n";
  TextExposition writer(&out);
  writer.Family("m", "h", "gauge");
  writer.Sample("m", "", uint64_t{1});
  writer.Sample("m", "", uint64_t{2});
  EXPECT_EQ(out, "previous\n# HELP m h\n# TYPE m gauge\nm 1\nm 2\n");
}

TEST(TextExpositionTest, SampleWithoutLabels) {
  std::string out;
  TextExposition(&out).Sample("vhostd_ports", "", uint64_t{42});
  EXPECT_EQ(out, "vhostd_ports 42\n");
}

TEST(TextExpositionTest, SampleWithLabels) {
  std::string out;
  const std::string labels = TextExposition::Label("port", "vm1") + "," + TextExposition::Label("queue", "0");
  TextExposition(&out).Sample("vhostd_port_rx_packets_total", labels, uint64_t{7});
  EXPECT_EQ(out, "vhostd_port_rx_packets_total{port=\"vm1\",queue=\"0\"} 7\n");
}

TEST(TextExpositionTest, Uint64ZeroAndMaxAreExact) {
  std::string out;
  TextExposition writer(&out);
  writer.Sample("m", "", uint64_t{0});
  writer.Sample("m", "", std::numeric_limits<uint64_t>::max());
  writer.Sample("m", "", (uint64_t{1} << 53) + 1);  // not representable as a double
  EXPECT_EQ(out, "m 0\nm 18446744073709551615\nm 9007199254740993\n");
}

TEST(TextExpositionTest, IntegralDoublesHaveNoFraction) {
  EXPECT_EQ(RenderDouble(0.0), "m 0\n");
  EXPECT_EQ(RenderDouble(3.0), "m 3\n");
  EXPECT_EQ(RenderDouble(-12.0), "m -12\n");
  EXPECT_EQ(RenderDouble(1048576.0), "m 1048576\n");
  EXPECT_EQ(RenderDouble(9007199254740992.0), "m 9007199254740992\n");
}

TEST(TextExpositionTest, ExactBinaryFractions) {
  EXPECT_EQ(RenderDouble(0.5), "m 0.5\n");
  EXPECT_EQ(RenderDouble(0.25), "m 0.25\n");
  EXPECT_EQ(RenderDouble(-1.125), "m -1.125\n");
  EXPECT_EQ(RenderDouble(1234.5), "m 1234.5\n");
}

TEST(TextExpositionTest, DoublesRoundTripExactly) {
  for (double value : {0.1, 1.0 / 3.0, 2.5e-7, 1e20, 6.02214076e23, 1e-300, 123456.789,
                       std::numeric_limits<double>::max(), std::numeric_limits<double>::min(),
                       std::numeric_limits<double>::denorm_min()}) {
    const std::string text = ValueOf(RenderDouble(value));
    char* end = nullptr;
    const double parsed = std::strtod(text.c_str(), &end);
    EXPECT_EQ(*end, '\0') << text;
    EXPECT_EQ(parsed, value) << text;
  }
}

TEST(TextExpositionTest, SpecialDoubles) {
  EXPECT_EQ(RenderDouble(std::numeric_limits<double>::infinity()), "m +Inf\n");
  EXPECT_EQ(RenderDouble(-std::numeric_limits<double>::infinity()), "m -Inf\n");
  EXPECT_EQ(RenderDouble(std::numeric_limits<double>::quiet_NaN()), "m NaN\n");
  EXPECT_EQ(RenderDouble(-std::numeric_limits<double>::quiet_NaN()), "m NaN\n");
}

TEST(TextExpositionTest, DoubleSampleWithLabels) {
  std::string out;
  TextExposition(&out).Sample("vhostd_rpc_duration_seconds_bucket", TextExposition::Label("le", "+Inf"), 2.0);
  EXPECT_EQ(out, "vhostd_rpc_duration_seconds_bucket{le=\"+Inf\"} 2\n");
}

TEST(TextExpositionTest, LabelPlain) {
  EXPECT_EQ(TextExposition::Label("port", "vm-1"), "port=\"vm-1\"");
  EXPECT_EQ(TextExposition::Label("port", ""), "port=\"\"");
}

TEST(TextExpositionTest, LabelEscapesBackslashQuoteAndNewline) {
  EXPECT_EQ(TextExposition::Label("l", "a\\b"), "l=\"a\\\\b\"");
  EXPECT_EQ(TextExposition::Label("l", "say \"hi\""), "l=\"say \\\"hi\\\"\"");
  EXPECT_EQ(TextExposition::Label("l", "two\nlines"), "l=\"two\\nlines\"");
  EXPECT_EQ(TextExposition::Label("l", "\\\"\n"), "l=\"\\\\\\\"\\n\"");
  // Nothing else is escaped: tabs, braces, commas and UTF-8 pass through.
  EXPECT_EQ(TextExposition::Label("l", "a\tb{c},d=\xc3\xa9"), "l=\"a\tb{c},d=\xc3\xa9\"");
}

}  // namespace
}  // namespace vhostd
