// A word n-gram back-off language model held as a hash table (parent entry, word) -> entry,
// read from an ARPA file. Scores are natural logs; a state is the entry of the context n-gram.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace carousel::decode {

class NGramLM {
 public:
  // Reads an ARPA file; throws std::runtime_error naming the file and line on malformed input.
  explicit NGramLM(const std::string& path);

  int order() const { return order_; }
  int num_words() const { return static_cast<int>(words_.size()); }
  const std::vector<std::string>& words() const { return words_; }
  // Word id, or unk_id() for words outside the vocabulary.
  int word_id(const std::string& word) const;
  int unk_id() const { return unk_; }
  int bos_id() const { return bos_; }
  int eos_id() const { return eos_; }
  bool has_unk() const { return has_unk_; }
  int null_state() const { return 0; }
  int begin_state() const { return begin_state_; }
  // ln p(word | state) by the back-off rule; *next receives the state after word.
  float score(int state, int word, int* next) const;
  float unigram(int word) const;  // ln p(word) with an empty context

  // The n-grams listed in the file that extend the context `state` by one word, for the
  // context-dependent look-ahead: [begin, end) of (word id, its rank, ln p(word | state)),
  // sorted by rank, the position of the word in byte order among all words (so the words with
  // a given prefix are one run).
  struct Successor {
    int32_t word;
    int32_t rank;
    float prob;
  };
  int word_rank(int word) const { return word_rank_[word]; }
  const Successor* successors_begin(int state) const { return succ_.data() + succ_start_[state]; }
  const Successor* successors_end(int state) const { return succ_.data() + succ_start_[state + 1]; }
  float backoff(int state) const { return entries_[state].backoff; }  // ln b(context)
  int suffix(int state) const { return entries_[state].suffix; }      // the context backed off to

 private:
  struct Entry {
    float prob;     // ln p(w_n | w_1..w_{n-1})
    float backoff;  // ln b(w_1..w_n)
    int32_t suffix; // entry of w_2..w_n (0: the empty context)
    int32_t order;
  };
  int32_t find(int32_t parent, int32_t word) const;
  int32_t insert(int32_t parent, int32_t word, const Entry& entry);
  void reserve(size_t n);
  void index_successors();

  int order_ = 0;
  std::vector<Entry> entries_;  // entries_[0]: the empty context
  std::vector<uint64_t> keys_;  // open addressing, linear probing; key = parent << 32 | word
  std::vector<int32_t> slots_;
  uint64_t mask_ = 0;
  std::vector<std::string> words_;
  std::unordered_map<std::string, int> word_index_;
  std::vector<int32_t> unigram_entry_;
  std::vector<int64_t> succ_start_;  // CSR over context entries
  std::vector<Successor> succ_;
  std::vector<int32_t> word_rank_;
  int unk_ = 0, bos_ = -1, eos_ = -1, begin_state_ = 0;
  bool has_unk_ = false;
};

}  // namespace carousel::decode
