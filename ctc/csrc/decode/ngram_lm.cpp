#include "ngram_lm.h"

#include <algorithm>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace carousel::decode {
namespace {

constexpr float kLn10 = 2.302585092994046f;
constexpr uint64_t kEmpty = ~uint64_t{0};

inline uint64_t mix(uint64_t key) {  // splitmix64 finaliser
  key ^= key >> 30;
  key *= 0xbf58476d1ce4e5b9ULL;
  key ^= key >> 27;
  key *= 0x94d049bb133111ebULL;
  return key ^ (key >> 31);
}

std::runtime_error arpa_error(const std::string& path, size_t line, const std::string& what) {
  return std::runtime_error(path + ":" + std::to_string(line) + ": " + what);
}

// Splits an ARPA n-gram line into prob, n words and optional backoff (tabs or spaces).
bool split_line(const std::string& line, int n, float* prob, std::vector<std::string_view>* words,
                float* backoff) {
  const char* s = line.c_str();
  char* end = nullptr;
  *prob = std::strtof(s, &end);
  if (end == s) return false;
  words->clear();
  const char* p = end;
  for (int i = 0; i < n; ++i) {
    while (*p == ' ' || *p == '\t') ++p;
    const char* q = p;
    while (*q && *q != ' ' && *q != '\t') ++q;
    if (q == p) return false;
    words->emplace_back(p, static_cast<size_t>(q - p));
    p = q;
  }
  while (*p == ' ' || *p == '\t') ++p;
  *backoff = 0.0f;
  if (*p) {
    *backoff = std::strtof(p, &end);
    if (end == p) return false;
  }
  return true;
}

}  // namespace

void NGramLM::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n + n / 2 + 16) cap <<= 1;
  keys_.assign(cap, kEmpty);
  slots_.assign(cap, -1);
  mask_ = cap - 1;
}

int32_t NGramLM::find(int32_t parent, int32_t word) const {
  const uint64_t key = (uint64_t(uint32_t(parent)) << 32) | uint32_t(word);
  for (uint64_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
    if (keys_[i] == key) return slots_[i];
    if (keys_[i] == kEmpty) return -1;
  }
}

int32_t NGramLM::insert(int32_t parent, int32_t word, const Entry& entry) {
  const uint64_t key = (uint64_t(uint32_t(parent)) << 32) | uint32_t(word);
  for (uint64_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
    if (keys_[i] == key) {
      entries_[slots_[i]] = entry;
      return slots_[i];
    }
    if (keys_[i] == kEmpty) {
      keys_[i] = key;
      slots_[i] = static_cast<int32_t>(entries_.size());
      entries_.push_back(entry);
      return slots_[i];
    }
  }
}

NGramLM::NGramLM(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open language model " + path);
  std::string line;
  size_t lineno = 0;
  bool data = false;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.rfind("\\data\\", 0) == 0) {
      data = true;
      break;
    }
  }
  if (!data) throw arpa_error(path, lineno, "not an ARPA file (no \\data\\ line)");
  std::vector<size_t> counts;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.rfind("ngram ", 0) == 0) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) throw arpa_error(path, lineno, "bad count line");
      counts.push_back(std::strtoull(line.c_str() + eq + 1, nullptr, 10));
    } else if (!line.empty() && line[0] == '\\') {
      break;
    }
  }
  if (counts.empty()) throw arpa_error(path, lineno, "no ngram counts in the header");
  order_ = static_cast<int>(counts.size());
  size_t total = 1;
  for (size_t c : counts) total += c;
  entries_.reserve(total);
  reserve(total);
  entries_.push_back({0.0f, 0.0f, 0, 0});

  std::vector<std::string_view> grams;
  std::vector<int32_t> ids;
  std::vector<size_t> seen(order_ + 1, 0);  // n-grams read per order, against the header
  int n = 0;
  bool ended = false;
  do {
    if (line.empty()) continue;
    if (line[0] == '\\') {
      if (line.rfind("\\end\\", 0) == 0) {
        ended = true;
        break;
      }
      const int next = std::atoi(line.c_str() + 1);
      if (next != n + 1 || next > order_)
        throw arpa_error(path, lineno, "unexpected section " + line + " (expected \\" +
                                           std::to_string(n + 1) + "-grams:)");
      n = next;
      continue;
    }
    float prob = 0, backoff = 0;
    if (n == 0 || !split_line(line, n, &prob, &grams, &backoff))
      throw arpa_error(path, lineno, "malformed n-gram line");
    ++seen[n];
    Entry entry{prob <= -99.0f ? -INFINITY : prob * kLn10, backoff * kLn10, 0, n};
    if (n == 1) {
      std::string word(grams[0]);
      const int id = static_cast<int>(words_.size());
      if (!word_index_.emplace(word, id).second) continue;
      words_.push_back(word);
      unigram_entry_.push_back(insert(0, id, entry));
      continue;
    }
    ids.clear();
    for (auto g : grams) {
      auto it = word_index_.find(std::string(g));
      if (it == word_index_.end())
        throw arpa_error(path, lineno, "word not among the unigrams: " + std::string(g));
      ids.push_back(it->second);
    }
    int32_t parent = 0;
    for (int i = 0; i + 1 < n && parent >= 0; ++i) parent = find(parent, ids[i]);
    if (parent < 0) throw arpa_error(path, lineno, "the context of this n-gram is missing");
    // suffix of (context, w) = suffix(context) extended by w, backing off further if absent
    int32_t suffix = -1;
    for (int32_t s = entries_[parent].suffix;; s = entries_[s].suffix) {
      suffix = find(s, ids.back());
      if (suffix >= 0 || s == 0) break;
    }
    entry.suffix = suffix < 0 ? 0 : suffix;
    insert(parent, ids.back(), entry);
  } while (std::getline(in, line) && ++lineno);
  if (!ended)
    throw arpa_error(path, lineno, "truncated: the file ends before its \\end\\ line");
  for (int k = 1; k <= order_; ++k)
    if (seen[k] != counts[k - 1])
      throw arpa_error(path, lineno, "the header announces " + std::to_string(counts[k - 1]) +
                                         " " + std::to_string(k) + "-grams but the file holds " +
                                         std::to_string(seen[k]));

  auto lookup = [&](const char* w) {
    auto it = word_index_.find(w);
    return it == word_index_.end() ? -1 : it->second;
  };
  bos_ = lookup("<s>");
  eos_ = lookup("</s>");
  unk_ = lookup("<unk>");
  has_unk_ = unk_ >= 0;
  if (!has_unk_) {  // KenLM's convention: an <unk> missing from the file scores log10 p = -100
    unk_ = static_cast<int>(words_.size());
    words_.push_back("<unk>");
    word_index_.emplace("<unk>", unk_);
    unigram_entry_.push_back(insert(0, unk_, Entry{-100.0f * kLn10, 0.0f, 0, 1}));
  }
  if (eos_ < 0) throw arpa_error(path, lineno, "no </s> unigram");
  begin_state_ = bos_ >= 0 ? unigram_entry_[bos_] : 0;
  index_successors();
}

void NGramLM::index_successors() {
  std::vector<int32_t> by_bytes(words_.size());
  for (size_t i = 0; i < by_bytes.size(); ++i) by_bytes[i] = static_cast<int32_t>(i);
  std::sort(by_bytes.begin(), by_bytes.end(),
            [&](int32_t a, int32_t b) { return words_[a] < words_[b]; });
  word_rank_.assign(words_.size(), 0);
  for (size_t r = 0; r < by_bytes.size(); ++r) word_rank_[by_bytes[r]] = static_cast<int32_t>(r);

  succ_start_.assign(entries_.size() + 1, 0);
  for (uint64_t key : keys_)
    if (key != kEmpty) ++succ_start_[(key >> 32) + 1];
  for (size_t i = 1; i < succ_start_.size(); ++i) succ_start_[i] += succ_start_[i - 1];
  succ_.resize(static_cast<size_t>(succ_start_.back()));
  std::vector<int64_t> fill(succ_start_.begin(), succ_start_.end() - 1);
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == kEmpty) continue;
    const int32_t word = static_cast<int32_t>(keys_[i] & 0xffffffffu);
    succ_[fill[keys_[i] >> 32]++] = {word, word_rank_[word], entries_[slots_[i]].prob};
  }
  for (size_t e = 0; e + 1 < succ_start_.size(); ++e)
    std::sort(succ_.begin() + succ_start_[e], succ_.begin() + succ_start_[e + 1],
              [](const Successor& a, const Successor& b) { return a.rank < b.rank; });
}

int NGramLM::word_id(const std::string& word) const {
  auto it = word_index_.find(word);
  return it == word_index_.end() ? unk_ : it->second;
}

float NGramLM::unigram(int word) const { return entries_[unigram_entry_[word]].prob; }

float NGramLM::score(int state, int word, int* next) const {
  float backoff = 0.0f;
  for (int32_t e = state;; e = entries_[e].suffix) {
    const int32_t hit = find(e, word);
    if (hit >= 0) {
      const Entry& entry = entries_[hit];
      *next = entry.order >= order_ ? entry.suffix : hit;
      return backoff + entry.prob;
    }
    if (e == 0) {  // unreachable for vocabulary words: every word has a unigram
      *next = 0;
      return backoff + entries_[unigram_entry_[unk_]].prob;
    }
    backoff += entries_[e].backoff;
  }
}

}  // namespace carousel::decode
