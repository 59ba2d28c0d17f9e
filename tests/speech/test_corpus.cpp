// LibriSpeech layout and manifests on the real fixtures, and every malformed input naming its file and line.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/speech/librispeech_corpus.h"
#include "data/speech/manifest_corpus.h"
#include "data/speech/speech_error.h"
#include "speech_test_util.h"

namespace sp = sigtrain::speech;
namespace fs = std::filesystem;
using speech_test::error_of;
using speech_test::fixture;
using speech_test::write_text;

namespace {

std::string corpus_error(const std::function<sp::Corpus()>& read) {
  return error_of<sp::SpeechDataError>([&] { read(); });
}

// A copy of the fixture LibriSpeech tree in a temporary folder, to break.
fs::path librispeech_copy(const std::string& name) {
  const fs::path dir = speech_test::temp_dir(name);
  fs::copy(fixture("librispeech"), dir, fs::copy_options::recursive);
  return dir;
}

}  // namespace

TEST(SpeechCorpus, ReadsLibriSpeechFixture) {
  const sp::Corpus c = sp::read_librispeech(fixture("librispeech"));
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].id, "1-1-0880");
  EXPECT_EQ(c[0].speaker, "1");
  EXPECT_EQ(c[0].text, "HE WAS NOT AN ILL DISPOSED YOUNG MAN");
  EXPECT_DOUBLE_EQ(c[0].duration_s, 47840.0 / 16000.0);
  EXPECT_EQ(fs::path(c[0].audio_path).filename(), "1-1-0880.flac");
  EXPECT_EQ(c[1].id, "1-2-0930");
  EXPECT_DOUBLE_EQ(c[1].duration_s, 52640.0 / 16000.0);
  EXPECT_EQ(c[1].source, fixture("librispeech") + "/1/2/1-2.trans.txt:1");
}

TEST(SpeechCorpus, ReadsJsonlAndTsvManifests) {
  const sp::Corpus j = sp::read_manifest(fixture("manifest.jsonl"));
  ASSERT_EQ(j.size(), 5u);
  EXPECT_EQ(j[0].id, "asterisk/seven");
  EXPECT_EQ(j[0].audio_path, fixture("asterisk/seven.wav"));  // relative to the manifest's folder
  EXPECT_DOUBLE_EQ(j[0].duration_s, 0.820125);
  EXPECT_EQ(j[1].text, "Thank you.");
  EXPECT_EQ(j[3].id, "librispeech/1/1/1-1-0880");
  EXPECT_EQ(j[4].source, fixture("manifest.jsonl") + ":5");

  const sp::Corpus t = sp::read_manifest(fixture("manifest.tsv"));  // header line skipped
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[2].text, "Please enter your password followed by the pound key.");
  EXPECT_DOUBLE_EQ(t[2].duration_s, 3.285);
  EXPECT_EQ(t[2].source, fixture("manifest.tsv") + ":4");
}

TEST(SpeechCorpus, ManifestErrorsNameFileAndLine) {
  const fs::path dir = speech_test::temp_dir("manifest_errors");
  fs::copy_file(fixture("asterisk/seven.wav"), dir / "a.wav");
  const std::string ok = R"({"path": "a.wav", "duration": 0.8, "text": "seven"})";
  auto jsonl = [&](const std::string& body) {
    write_text(dir / "m.jsonl", body);
    return corpus_error([&] { return sp::read_manifest((dir / "m.jsonl").string()); });
  };
  const std::string m = (dir / "m.jsonl").string();
  const std::string bad_json = jsonl(ok + "\n\n{\"path\": \"a.wav\", \"duration\": 0.8,\n");
  EXPECT_EQ(bad_json.rfind(m + ":3: bad JSON: ", 0), 0u) << bad_json;  // then the parser's own words
  EXPECT_NE(bad_json.find("parse error"), std::string::npos) << bad_json;
  EXPECT_EQ(jsonl(R"({"path": "a.wav", "text": "seven"})"),
            m + R"(:1: missing field 'duration' (expected {"path": ..., "duration": ..., "text": ...}))");
  EXPECT_EQ(jsonl(R"({"path": "a.wav", "duration": "0.8", "text": "seven"})"), m + ":1: field 'duration' must be a number");
  EXPECT_EQ(jsonl("[1, 2]"), m + R"(:1: expected a JSON object {"path", "duration", "text"})");
  EXPECT_EQ(jsonl(ok + "\n" + R"({"path": "b.wav", "duration": 1, "text": "x"})"),
            m + ":2: missing audio file " + (dir / "b.wav").string());
  EXPECT_EQ(jsonl(ok + "\n" + ok), m + ":2: duplicate id 'a' (first at line 1)");
  EXPECT_EQ(jsonl(R"({"path": "a.wav", "duration": -1, "text": "x"})"),
            m + ":1: duration must be a finite number of seconds >= 0");
  EXPECT_EQ(jsonl("\n\n"), m + ": empty manifest (no utterances)");

  auto tsv = [&](const std::string& body) {
    write_text(dir / "m.tsv", body);
    return corpus_error([&] { return sp::read_manifest((dir / "m.tsv").string()); });
  };
  const std::string t = (dir / "m.tsv").string();
  EXPECT_EQ(tsv("a.wav\t0.8\tseven\na.wav\t0.8\n"),
            t + ":2: expected three tab-separated columns: path<TAB>duration<TAB>text");
  EXPECT_EQ(tsv("a.wav\t0.8s\tseven\n"), t + ":1: duration '0.8s' is not a number of seconds");
  write_text(dir / "m.csv", "a.wav,0.8,seven\n");
  EXPECT_EQ(corpus_error([&] { return sp::read_manifest((dir / "m.csv").string()); }),
            (dir / "m.csv").string() + ": unknown manifest kind '.csv' (expected .jsonl, .json or .tsv)");
  EXPECT_EQ(corpus_error([&] { return sp::read_manifest((dir / "none.jsonl").string()); }),
            (dir / "none.jsonl").string() + ": cannot open manifest");
}

TEST(SpeechCorpus, LibriSpeechErrorsNameFileAndLine) {
  {
    const fs::path root = librispeech_copy("ls_missing_audio");
    const fs::path trans = root / "1/1/1-1.trans.txt";
    write_text(trans, "1-1-0880 HE WAS NOT\n1-1-0881 NO SUCH FILE\n");
    EXPECT_EQ(corpus_error([&] { return sp::read_librispeech(root.string()); }),
              trans.string() + ":2: missing audio for '1-1-0881': neither " + (root / "1/1/1-1-0881.flac").string() +
                  " nor .wav exists");
  }
  {
    const fs::path root = librispeech_copy("ls_no_id");
    const fs::path trans = root / "1/2/1-2.trans.txt";
    write_text(trans, "1-2-0930 HE MIGHT\n\n HE MIGHT EVEN\n");
    EXPECT_EQ(corpus_error([&] { return sp::read_librispeech(root.string()); }),
              trans.string() + ":3: transcript line without an id (expected 'UTTID TRANSCRIPT')");
    write_text(trans, "1-2-0930\n");
    EXPECT_EQ(corpus_error([&] { return sp::read_librispeech(root.string()); }),
              trans.string() + ":1: no transcript after the id (expected 'UTTID TRANSCRIPT')");
    write_text(trans, "1-3-0930 HE MIGHT\n");
    EXPECT_EQ(corpus_error([&] { return sp::read_librispeech(root.string()); }),
              trans.string() + ":1: id '1-3-0930' does not start with this file's '1-2-'");
  }
  {
    const fs::path root = librispeech_copy("ls_duplicate");
    const fs::path trans = root / "1/1/1-1.trans.txt";
    write_text(trans, "1-1-0880 HE WAS NOT\n1-1-0880 AGAIN\n");
    EXPECT_EQ(corpus_error([&] { return sp::read_librispeech(root.string()); }),
              trans.string() + ":2: duplicate id '1-1-0880' (first at " + trans.string() + ":1)");
  }
  {
    const fs::path root = librispeech_copy("ls_bad_audio");
    const fs::path flac = root / "1/1/1-1-0880.flac";
    write_text(flac, "not flac");
    const std::string msg = corpus_error([&] { return sp::read_librispeech(root.string()); });
    EXPECT_EQ(msg.rfind((root / "1/1/1-1.trans.txt").string() + ":1: " + flac.string() + ": cannot read as audio", 0), 0u)
        << msg;
  }
  const fs::path empty = speech_test::temp_dir("ls_empty");
  EXPECT_EQ(corpus_error([&] { return sp::read_librispeech(empty.string()); }),
            empty.string() + ": no <speaker>-<chapter>.trans.txt files found (expected the LibriSpeech layout)");
}
