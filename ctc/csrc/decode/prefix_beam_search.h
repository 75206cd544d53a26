// CTC prefix beam search (Graves 2012, ch. 7; Hannun et al. 2014, "First-pass large vocabulary
// continuous speech recognition using bi-directional recurrent DNNs", Algorithm 1) with word
// n-gram fusion: score = log P_ctc + alpha * ln P_lm(words) + beta * |words|, the LM applied when
// a word completes, partial words scored by a language-model look-ahead over a lexicon trie, and
// hotword phrases boosted along the way.
//
// The look-ahead of a partial word is the best LM score of the words it can still become
// (Ortmanns, Ney & Eiden 1996, "Language-model look-ahead for large vocabulary speech
// recognition"): with lm_lookahead = kContext it is conditioned on the hypothesis's LM context,
// max_w ln p(w | context) over the words w below the lexicon node, following the back-off rule
// (the n-grams listed for the context, else its back-off weight plus the look-ahead of the
// shorter context); kUnigram uses max_w ln p(w) alone. With kContext the empty word after a
// boundary is scored too (its value is the best next word), so hypotheses that have not started
// the next word are not favoured over those that have.
//
// Hypotheses are nodes of a prefix trie (integers), each holding (log p_blank, log p_nonblank),
// its LM state, its lexicon-trie node and its hotword-trie node. The decoder is immutable once
// built; decoding state lives in a Workspace, one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "byte_trie.h"
#include "ngram_lm.h"
#include "shared_memo.h"

namespace carousel::decode {

enum class LookAhead : int { kUnigram = 0, kContext = 1 };

// The search's options. Python sets every field (ctc/decode/beam.py) from
// ctc.decode.config.DecodeConfig, which holds the one set of defaults and documents them; the
// initialisers here only make a default-constructed struct well defined, not a usable decoder.
struct DecoderOptions {
  int blank = 0;
  int delimiter = -1;        // character vocabularies: the token that separates words (space)
  std::string word_prefix;   // subword vocabularies: tokens starting with it begin a word ("▁")
  int beam_size = 0;
  int top_k = 0;             // at most this many tokens extend the beams per frame
  float alpha = 0.0f;        // LM weight
  float beta = 0.0f;         // word insertion bonus
  float token_min_logp = 0.0f;     // tokens below this log-prob are not tried (the best always is)
  float beam_prune_logp = 0.0f;    // beams below best + this are dropped
  float blank_skip_logp = 0.0f;    // frames whose log p(blank) >= this only extend by blank/repeat
  float unk_score = 0.0f;          // score of a word (or partial word) outside the lexicon
  bool lexicon_constrained = false;
  bool score_words = false;        // apply beta per word (set when an LM is used)
  LookAhead lm_lookahead = LookAhead::kContext;
  // With an LM: of hypotheses whose futures score alike (same last token, LM state, partial
  // word's lexicon node, hotword state), keep only the best each frame (see recombine()).
  bool recombine = false;
};

struct DecodeResult {
  std::vector<int32_t> tokens;
  std::vector<int32_t> frames;  // first frame of each emitted token
  float score = 0.0f;           // acoustic + weighted LM, word bonus, unk and hotword terms
  float acoustic = 0.0f;        // log P_ctc(prefix)
  float lm = 0.0f;              // unweighted ln P_lm(words, </s>)
  int32_t words = 0;
};

class PrefixBeamSearch {
 public:
  // tokens: the text of each token id. lexicon: words for the look-ahead (empty: none, unless
  // the LM supplies its vocabulary when use_lm_vocab). hotwords: (phrase, total bonus) pairs.
  PrefixBeamSearch(std::vector<std::string> tokens, DecoderOptions options,
                   std::shared_ptr<const NGramLM> lm, const std::vector<std::string>& lexicon,
                   bool use_lm_vocab, const std::vector<std::pair<std::string, float>>& hotwords);
  ~PrefixBeamSearch();

  // log_probs: (time, vocab) row-major, natural-log posteriors.
  std::vector<DecodeResult> decode(const float* log_probs, int time, int vocab, int nbest) const;
  // log_probs: (batch, time, vocab); lengths: (batch,). Decoded by num_threads workers.
  std::vector<std::vector<DecodeResult>> decode_batch(const float* log_probs, int batch, int time,
                                                      int vocab, const int64_t* lengths,
                                                      int nbest, int num_threads) const;
  // The words of a decoded token sequence with [first frame, last frame + 1) spans.
  struct WordSpan {
    std::string word;
    int32_t start, end;
  };
  std::vector<WordSpan> words(const std::vector<int32_t>& tokens,
                              const std::vector<int32_t>& frames) const;
  // Unweighted look-ahead of the partial word `prefix` after the words `history` (from <s>):
  // -inf without an LM or lexicon, or when no lexicon word begins with prefix. For tests.
  float lookahead_after(const std::vector<std::string>& history, const std::string& prefix) const;
  const DecoderOptions& options() const { return options_; }
  int lexicon_size() const { return lexicon_words_; }

 private:
  struct Workspace;
  struct Node;
  std::vector<DecodeResult> run(Workspace& ws, const float* log_probs, int time, int vocab,
                                int nbest) const;
  int32_t child(Workspace& ws, int32_t node, int32_t token, int32_t frame) const;
  // Scores the completion of the current partial word of a node's state.
  // With force, a word outside the lexicon is accepted (scored as unknown) even when the
  // search is lexicon-constrained.
  bool complete_word(Workspace& ws, int32_t lex, int32_t* lm_state, float* base, float* lm,
                     int32_t* words, bool force = false) const;
  float lm_score(Workspace& ws, int32_t state, int32_t word, int32_t* next) const;
  // Unweighted look-ahead of lexicon node `lex` in LM context `state` (see the file comment),
  // and the lexicon node of the word that attains it (-1 if none).
  std::pair<float, int32_t> lookahead(Workspace& ws, int32_t state, int32_t lex) const;
  // Sets n.heur, the weighted look-ahead of its partial word plus hotword bonus, and n.la,
  // n.la_word. same_context: n extends its parent's partial word (same LM state), so the
  // parent's look-ahead holds unchanged when its best word still lies below n's lexicon node.
  void set_heuristic(Workspace& ws, Node& n, bool same_context) const;
  bool below(int32_t word_node, int32_t lex) const {
    return lex_pre_[lex] <= lex_pre_[word_node] && lex_pre_[word_node] < lex_end_[lex];
  }
  void feed_hot(int32_t* state, unsigned char byte, float* locked) const;
  // Drops from ws.ranked every hypothesis that a better one makes redundant: the same last
  // token, LM state, lexicon node of the partial word (all words outside the lexicon alike)
  // and hotword state give the same score to any continuation, so the worse can never overtake
  // the better except through their blank/non-blank split. The n-gram history beyond the LM
  // state is forgotten (Viterbi recombination, Ney & Ortmanns 1999; pyctcdecode's
  // prune_history), which frees beam slots for hypotheses with different futures.
  void recombine(Workspace& ws) const;

  std::vector<std::string> tokens_;
  std::vector<std::string> content_;  // the bytes a token adds to the current word
  std::vector<uint8_t> boundary_;     // 1: the token ends the current word before its content
  DecoderOptions options_;
  std::shared_ptr<const NGramLM> lm_;
  bool has_lexicon_ = false;
  int lexicon_words_ = 0;
  ByteTrie lexicon_;
  std::vector<float> smear_;          // per lexicon node: max unigram ln p below it
  std::vector<int32_t> smear_word_;   // per lexicon node: the word node attaining smear_
  std::vector<int32_t> lex_pre_, lex_end_;  // pre-order number of each node, end of its subtree
  std::vector<int32_t> word_at_;      // per lexicon node: LM word id, -1 none, -2 lexicon-only
  std::vector<int32_t> word_node_;    // per LM word id: its lexicon node, or -1
  // per lexicon node: [lo, hi) of the LM word ranks of the lexicon words below it
  std::vector<int32_t> rank_lo_, rank_hi_;
  ByteTrie hot_;
  std::vector<float> hot_bonus_;      // per hotword node: bonus earned so far on this path
  std::vector<uint8_t> hot_end_;
  int32_t hot_space_ = -1;            // the node after a word boundary
  mutable std::mutex pool_mutex_;
  mutable std::vector<std::unique_ptr<Workspace>> pool_;
  // Shared by the threads of a multi-threaded batch behind their own caches; prepared between
  // batches under memo_mutex_ held exclusively, which running batches hold shared.
  mutable SharedMemo lm_memo_, lookahead_memo_;
  mutable std::shared_mutex memo_mutex_;
};

}  // namespace carousel::decode
