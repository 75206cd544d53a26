#include "prefix_beam_search.h"

#include "flat_map.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_set>

namespace carousel::decode {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int32_t kHotword = -3;  // word_at_ id of a word that only a hotword phrase brings in

// log(exp(a) + exp(b)) with log1p(exp(-d)) tabulated on [0, 16] in steps of 1/256 and
// interpolated linearly (error below 1e-6; beyond 16 the term is below 1.2e-7).
struct Log1pExp {
  static constexpr int kSteps = 256, kSize = 16 * kSteps + 2;
  float value[kSize];
  Log1pExp() {
    for (int i = 0; i < kSize; ++i)
      value[i] = static_cast<float>(std::log1p(std::exp(-static_cast<double>(i) / kSteps)));
  }
};
const Log1pExp kLog1pExp;

inline float log_add(float a, float b) {
  if (a < b) std::swap(a, b);
  const float d = a - b;  // NaN-free: b == -inf gives d == inf
  if (!(d < 16.0f)) return a;
  const float x = d * Log1pExp::kSteps;
  const int i = static_cast<int>(x);
  const float f = x - static_cast<float>(i);
  return a + kLog1pExp.value[i] + f * (kLog1pExp.value[i + 1] - kLog1pExp.value[i]);
}

struct Ranked {
  float score;
  int32_t node;
  bool operator<(const Ranked& o) const {  // best first; ties by creation order (deterministic)
    return score > o.score || (score == o.score && node < o.node);
  }
};

}  // namespace

struct PrefixBeamSearch::Node {
  int32_t parent, token, frame;
  int32_t lm_state, lex, hot, word_bytes, words;
  float base;  // weighted LM of completed words + word bonuses + unk penalties + locked hotwords
  float heur;  // look-ahead of the partial word + hotword bonus of the partial match
  float la = 0.0f;        // unweighted LM look-ahead of the partial word
  int32_t la_word = -1;   // lexicon node of the word attaining it (-1: not computed)
  float lm;    // unweighted ln P_lm of completed words
  float pb = kNegInf, pnb = kNegInf, npb = kNegInf, npnb = kNegInf;
  // the token's emission frame: where extending the parent scored best,
  // max_t log P(parent prefix at t-1) + log p(token | t)
  float emit = kNegInf;
  int32_t stamp = -1;
  bool valid = true;
};

// (node, token) -> child node, open addressing; entries of earlier utterances are told apart by
// an epoch so that starting an utterance costs nothing.
class ChildTable {
 public:
  void reset() {
    if (keys_.empty()) resize(1 << 14);
    if (++epoch_ == 0) {  // wrapped around: forget everything for real
      std::fill(epochs_.begin(), epochs_.end(), 0u);
      epoch_ = 1;
    }
    used_ = 0;
  }
  int32_t find(int32_t node, int32_t token) const {
    const uint64_t key = pack(node, token);
    for (uint64_t i = hash(key) & mask_;; i = (i + 1) & mask_) {
      if (epochs_[i] != epoch_) return -1;
      if (keys_[i] == key) return values_[i];
    }
  }
  void insert(int32_t node, int32_t token, int32_t child) {
    if (2 * (used_ + 1) > keys_.size()) grow();
    place(pack(node, token), child);
    ++used_;
  }

 private:
  static uint64_t pack(int32_t node, int32_t token) {
    return (uint64_t(uint32_t(node)) << 32) | uint32_t(token);
  }
  static uint64_t hash(uint64_t key) {
    key *= 0x9E3779B97F4A7C15ULL;
    return key ^ (key >> 29);
  }
  void place(uint64_t key, int32_t value) {
    uint64_t i = hash(key) & mask_;
    while (epochs_[i] == epoch_) i = (i + 1) & mask_;
    keys_[i] = key;
    values_[i] = value;
    epochs_[i] = epoch_;
  }
  void resize(size_t size) {
    keys_.assign(size, 0);
    values_.assign(size, -1);
    epochs_.assign(size, 0u);
    mask_ = size - 1;
  }
  void grow() {
    std::vector<uint64_t> keys;
    std::vector<int32_t> values;
    for (size_t i = 0; i < keys_.size(); ++i)
      if (epochs_[i] == epoch_) {
        keys.push_back(keys_[i]);
        values.push_back(values_[i]);
      }
    resize(keys_.size() * 2);
    for (size_t i = 0; i < keys.size(); ++i) place(keys[i], values[i]);
  }
  std::vector<uint64_t> keys_;
  std::vector<int32_t> values_;
  std::vector<uint32_t> epochs_;
  uint32_t epoch_ = 0;
  size_t used_ = 0;
  uint64_t mask_ = 0;
};

struct PrefixBeamSearch::Workspace {
  ChildTable children;
  std::vector<Node> nodes;
  std::vector<int32_t> beams, touched;
  std::vector<std::pair<float, int32_t>> candidates;
  std::vector<Ranked> ranked;
  FlatMap<std::pair<float, int32_t>> lm_cache;  // (state, word) -> (score, next state)
  FlatMap<std::pair<float, int32_t>> lookahead;  // (state, lexicon node) -> look-ahead, word
  FlatMap<int32_t> groups;  // recombination: fingerprint -> position in ranked
  bool shared = false;      // consult and fill the decoder's shared memo tables
};

PrefixBeamSearch::PrefixBeamSearch(std::vector<std::string> tokens, DecoderOptions options,
                                   std::shared_ptr<const NGramLM> lm,
                                   const std::vector<std::string>& lexicon, bool use_lm_vocab,
                                   const std::vector<std::pair<std::string, float>>& hotwords)
    : tokens_(std::move(tokens)), options_(std::move(options)), lm_(std::move(lm)) {
  if (options_.beam_size < 1 || options_.top_k < 1)
    throw std::invalid_argument("beam_size and top_k must be at least 1 (set every option)");
  const int vocab = static_cast<int>(tokens_.size());
  content_.resize(vocab);
  boundary_.assign(vocab, 0);
  const std::string& prefix = options_.word_prefix;
  for (int i = 0; i < vocab; ++i) {
    if (i == options_.blank) continue;
    if (i == options_.delimiter) {
      boundary_[i] = 1;
    } else if (!prefix.empty() && tokens_[i].rfind(prefix, 0) == 0) {
      boundary_[i] = 1;
      content_[i] = tokens_[i].substr(prefix.size());
    } else {
      content_[i] = tokens_[i];
    }
  }

  // lexicon trie with the max-smeared unigram look-ahead
  std::vector<std::pair<int32_t, int32_t>> ends;  // (node, LM word id or -2)
  auto add_word = [&](const std::string& word, int32_t id) {
    if (word.empty() || word == "<s>" || word == "</s>" || word == "<unk>") return;
    ends.emplace_back(lexicon_.insert(word), id);
  };
  if (lexicon.empty() && use_lm_vocab && lm_) {
    for (int w = 0; w < lm_->num_words(); ++w) add_word(lm_->words()[w], w);
  } else {
    for (const auto& word : lexicon) {
      int32_t id = -2;
      if (lm_) {
        id = lm_->word_id(word);
        if (id == lm_->unk_id()) id = -2;
      }
      add_word(word, id);
    }
  }
  // words of hotword phrases join an existing lexicon (id kHotword): the user asked for them, so
  // they are neither out of the lexicon nor charged unk_score, whatever the LM knows
  if (!ends.empty()) {
    std::unordered_set<std::string> known;
    known.reserve(ends.size());
    if (lexicon.empty() && use_lm_vocab && lm_)
      for (int w = 0; w < lm_->num_words(); ++w) known.insert(lm_->words()[w]);
    else
      known.insert(lexicon.begin(), lexicon.end());
    for (const auto& [phrase, weight] : hotwords) {
      (void)weight;
      size_t start = 0;
      while (start < phrase.size()) {
        size_t end = phrase.find(' ', start);
        if (end == std::string::npos) end = phrase.size();
        const std::string word = phrase.substr(start, end - start);
        if (!word.empty() && known.insert(word).second) add_word(word, kHotword);
        start = end + 1;
      }
    }
  }
  has_lexicon_ = !ends.empty();
  lexicon_words_ = static_cast<int>(ends.size());
  smear_.assign(lexicon_.size(), kNegInf);
  word_at_.assign(lexicon_.size(), -1);
  word_node_.assign(lm_ ? lm_->num_words() : 0, -1);
  const float lexicon_only = lm_ && options_.alpha > 0 ? options_.unk_score / options_.alpha : 0.f;
  smear_word_.assign(lexicon_.size(), -1);
  for (auto [node, id] : ends) {
    word_at_[node] = id;
    if (id >= 0 && id < static_cast<int32_t>(word_node_.size())) word_node_[id] = node;
    const float value = id >= 0 && lm_ ? lm_->unigram(id)
                        : (lm_ && id != kHotword ? lexicon_only : 0.0f);
    if (value > smear_[node] || smear_word_[node] < 0) {
      smear_[node] = value;
      smear_word_[node] = node;
    }
  }
  // max-smear towards the root (children have larger ids than their parents)
  for (int32_t node = lexicon_.size() - 1; node > 0; --node) {
    const int32_t up = lexicon_.parent(node);
    if (smear_word_[node] >= 0 && (smear_[node] > smear_[up] || smear_word_[up] < 0)) {
      smear_[up] = smear_[node];
      smear_word_[up] = smear_word_[node];
    }
  }
  lex_pre_.assign(lexicon_.size(), 0);
  lex_end_.assign(lexicon_.size(), 0);
  {
    int32_t counter = 0;
    std::vector<std::pair<int32_t, size_t>> stack{{0, 0}};  // (node, next child)
    lex_pre_[0] = counter++;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      const auto& kids = lexicon_.children(node);
      if (next < kids.size()) {
        const int32_t kid = kids[next++].second;
        lex_pre_[kid] = counter++;
        stack.emplace_back(kid, 0);
      } else {
        lex_end_[node] = counter;
        stack.pop_back();
      }
    }
  }
  rank_lo_.assign(lexicon_.size(), std::numeric_limits<int32_t>::max());
  rank_hi_.assign(lexicon_.size(), 0);
  for (auto [node, id] : ends) {
    if (id < 0 || !lm_) continue;
    const int32_t rank = lm_->word_rank(id);
    for (int32_t x = node; x >= 0; x = lexicon_.parent(x)) {
      rank_lo_[x] = std::min(rank_lo_[x], rank);
      rank_hi_[x] = std::max(rank_hi_[x], rank + 1);
    }
  }

  // hotwords: " phrase " over bytes; the bonus grows linearly along the phrase
  if (!hotwords.empty()) {
    hot_space_ = hot_.insert(" ");
    std::vector<std::pair<int32_t, float>> phrases;
    for (const auto& [phrase, weight] : hotwords) phrases.emplace_back(0, weight);
    hot_bonus_.clear();
    for (size_t i = 0; i < hotwords.size(); ++i) phrases[i].first = hot_.insert(" " + hotwords[i].first + " ");
    hot_bonus_.assign(hot_.size(), kNegInf);
    hot_end_.assign(hot_.size(), 0);
    for (size_t i = 0; i < hotwords.size(); ++i) {
      const std::string key = " " + hotwords[i].first + " ";
      const float weight = hotwords[i].second;
      const float span = static_cast<float>(std::max<size_t>(key.size() - 1, 1));
      int32_t node = 0;
      for (unsigned char c : key) {
        node = hot_.child(node, c);
        const float bonus = weight * static_cast<float>(hot_.depth(node) - 1) / span;
        hot_bonus_[node] = std::max(hot_bonus_[node], bonus);
      }
      hot_end_[phrases[i].first] = 1;
    }
    for (auto& b : hot_bonus_)
      if (b == kNegInf) b = 0.0f;
  }
}

PrefixBeamSearch::~PrefixBeamSearch() = default;

float PrefixBeamSearch::lm_score(Workspace& ws, int32_t state, int32_t word, int32_t* next) const {
  const uint64_t key = pair_key(state, word);
  if (const auto* hit = ws.lm_cache.find(key)) {
    *next = hit->second;
    return hit->first;
  }
  if (ws.lm_cache.size() > (1u << 22)) ws.lm_cache.clear();
  uint64_t packed;
  if (ws.shared && lm_memo_.find(key, &packed)) {
    const auto value = SharedMemo::unpack(packed);
    ws.lm_cache.try_emplace(key, value);
    *next = value.second;
    return value.first;
  }
  int next_state = 0;
  const float score = lm_->score(state, word, &next_state);
  ws.lm_cache.try_emplace(key, std::make_pair(score, next_state));
  if (ws.shared) lm_memo_.insert(key, SharedMemo::pack(score, next_state));
  *next = next_state;
  return score;
}

std::pair<float, int32_t> PrefixBeamSearch::lookahead(Workspace& ws, int32_t state,
                                                     int32_t lex) const {
  if (state == 0 || !lm_ || options_.lm_lookahead != LookAhead::kContext)
    return {smear_[lex], smear_word_[lex]};
  const uint64_t key = pair_key(state, lex);
  if (const auto* hit = ws.lookahead.find(key)) return *hit;
  if (ws.lookahead.size() > (1u << 22)) ws.lookahead.clear();
  uint64_t packed;
  if (ws.shared && lookahead_memo_.find(key, &packed)) {
    const auto value = SharedMemo::unpack(packed);
    ws.lookahead.try_emplace(key, value);
    return value;
  }
  auto [value, word] = lookahead(ws, lm_->suffix(state), lex);
  value += lm_->backoff(state);
  // the successors listed for the state whose words lie below lex: one run of ranks
  const int32_t lo = rank_lo_[lex], hi = rank_hi_[lex];
  const auto* end = lm_->successors_end(state);
  const auto* it = std::lower_bound(
      lm_->successors_begin(state), end, lo,
      [](const NGramLM::Successor& s, int32_t r) { return s.rank < r; });
  for (; it != end && it->rank < hi; ++it) {
    if (it->prob > value && word_node_[it->word] >= 0) {
      value = it->prob;
      word = word_node_[it->word];
    }
  }
  ws.lookahead.try_emplace(key, std::make_pair(value, word));
  if (ws.shared) lookahead_memo_.insert(key, SharedMemo::pack(value, word));
  return {value, word};
}

float PrefixBeamSearch::lookahead_after(const std::vector<std::string>& history,
                                        const std::string& prefix) const {
  if (!lm_ || !has_lexicon_) return kNegInf;
  const int32_t lex = lexicon_.walk(0, prefix);
  if (lex < 0) return kNegInf;
  Workspace ws;
  int32_t state = lm_->begin_state();
  for (const auto& word : history) lm_score(ws, state, lm_->word_id(word), &state);
  return lookahead(ws, state, lex).first;
}

void PrefixBeamSearch::set_heuristic(Workspace& ws, Node& n, bool same_context) const {
  float heur = 0.0f;
  const bool partial = has_lexicon_ && n.word_bytes > 0;
  if (partial && n.lex < 0) {
    heur = options_.unk_score;
    n.la_word = -1;
  } else if (lm_ && (partial || (has_lexicon_ && options_.lm_lookahead == LookAhead::kContext))) {
    const int32_t lex = partial ? n.lex : 0;
    if (!(same_context && n.la_word >= 0 && below(n.la_word, lex)))
      std::tie(n.la, n.la_word) = lookahead(ws, n.lm_state, lex);
    heur = options_.alpha * n.la;
  } else {
    n.la_word = -1;
  }
  if (hot_space_ >= 0) heur += hot_bonus_[n.hot];
  n.heur = heur;
}

bool PrefixBeamSearch::complete_word(Workspace& ws, int32_t lex, int32_t* lm_state, float* base,
                                     float* lm, int32_t* words, bool force) const {
  if (has_lexicon_) {
    const int32_t id = lex >= 0 ? word_at_[lex] : -1;
    if (id == kHotword) {  // a hotword's word: no unk penalty, LM context as after <unk>
      if (lm_) lm_score(ws, *lm_state, lm_->unk_id(), lm_state);
    } else if (id == -1 || (id == -2 && lm_)) {  // outside the lexicon, or unknown to the LM
      if (options_.lexicon_constrained && id == -1 && !force) return false;
      *base += options_.unk_score;
      if (lm_) lm_score(ws, *lm_state, lm_->unk_id(), lm_state);
    } else if (id >= 0 && lm_) {
      const float s = lm_score(ws, *lm_state, id, lm_state);
      *base += options_.alpha * s;
      *lm += s;
    }
  }
  if (options_.score_words) *base += options_.beta;
  ++*words;
  return true;
}

void PrefixBeamSearch::recombine(Workspace& ws) const {
  // groups by a fingerprint of the key; a fingerprint collision (checked) keeps both
  auto lex_key = [](const Node& n) { return n.word_bytes > 0 ? n.lex : -2; };
  auto same = [&](const Node& a, const Node& b) {
    return a.token == b.token && a.lm_state == b.lm_state && lex_key(a) == lex_key(b) &&
           a.hot == b.hot;
  };
  ws.groups.clear();
  size_t kept = 0;
  for (size_t i = 0; i < ws.ranked.size(); ++i) {
    const Node& n = ws.nodes[ws.ranked[i].node];
    uint64_t fp = pair_key(n.token, n.lm_state) * 0x9E3779B97F4A7C15ULL ^
                  pair_key(lex_key(n), n.hot);
    if (fp == FlatMap<int32_t>::kEmpty) fp = 0;
    const auto [slot, fresh] = ws.groups.try_emplace(fp, static_cast<int32_t>(kept));
    if (!fresh && same(ws.nodes[ws.ranked[*slot].node], n)) {
      if (ws.ranked[i] < ws.ranked[*slot]) ws.ranked[*slot] = ws.ranked[i];
      continue;
    }
    ws.ranked[kept++] = ws.ranked[i];
  }
  ws.ranked.resize(kept);
}

void PrefixBeamSearch::feed_hot(int32_t* state, unsigned char byte, float* locked) const {
  const int32_t next = hot_.child(*state, byte);
  if (next < 0) {
    *state = byte == ' ' ? hot_space_ : 0;
    return;
  }
  *state = next;
  if (hot_end_[next]) {
    *locked += hot_bonus_[next];
    *state = hot_space_;
  }
}

int32_t PrefixBeamSearch::child(Workspace& ws, int32_t node, int32_t token, int32_t frame) const {
  const int32_t known = ws.children.find(node, token);
  if (known >= 0) return known;
  (void)frame;
  Node n = ws.nodes[node];
  n.parent = node;
  n.token = token;
  n.frame = -1;
  n.pb = n.pnb = n.npb = n.npnb = n.emit = kNegInf;
  n.stamp = -1;
  float locked = 0.0f;
  if (boundary_[token]) {
    if (n.word_bytes > 0)
      n.valid = complete_word(ws, n.lex, &n.lm_state, &n.base, &n.lm, &n.words);
    n.lex = has_lexicon_ ? 0 : -1;
    n.word_bytes = 0;
    if (hot_space_ >= 0) feed_hot(&n.hot, ' ', &locked);
  }
  const std::string& content = content_[token];
  if (!content.empty()) {
    if (n.lex >= 0) n.lex = lexicon_.walk(n.lex, content);
    n.word_bytes += static_cast<int32_t>(content.size());
    if (hot_space_ >= 0)
      for (unsigned char c : content) feed_hot(&n.hot, c, &locked);
    if (options_.lexicon_constrained && has_lexicon_ && n.lex < 0) n.valid = false;
  }
  n.base += locked;
  set_heuristic(ws, n, !boundary_[token]);
  const int32_t id = static_cast<int32_t>(ws.nodes.size());
  ws.nodes.push_back(n);
  ws.children.insert(node, token, id);
  return id;
}

std::vector<DecodeResult> PrefixBeamSearch::run(Workspace& ws, const float* log_probs, int time,
                                                int vocab, int nbest) const {
  const DecoderOptions& o = options_;
  ws.nodes.clear();
  ws.children.reset();
  Node root{};
  root.parent = -1;
  root.token = -1;
  root.frame = -1;
  root.lm_state = lm_ ? lm_->begin_state() : 0;
  root.lex = has_lexicon_ ? 0 : -1;
  root.hot = hot_space_;
  root.word_bytes = root.words = 0;
  root.base = root.heur = root.lm = 0.0f;
  root.pb = 0.0f;
  set_heuristic(ws, root, false);
  ws.nodes.push_back(root);
  ws.beams.assign(1, 0);
  float best_score = 0.0f;  // of the beams entering the frame (NaN: to be recomputed)

  for (int t = 0; t < time; ++t) {
    const float* row = log_probs + static_cast<int64_t>(t) * vocab;
    const float lb = row[o.blank];
    if (lb >= o.blank_skip_logp) {  // (nearly) certain blank: no new prefixes this frame
      for (int32_t b : ws.beams) {
        Node& n = ws.nodes[b];
        const float stay = n.token >= 0 ? n.pnb + row[n.token] : kNegInf;
        n.pb = log_add(n.pb, n.pnb) + lb;
        n.pnb = stay;
      }
      best_score = std::nanf("");
      continue;
    }
    // tokens tried this frame: above the threshold, at most top_k, always the best non-blank
    int best = o.blank == 0 ? 1 : 0;
    for (int c = 0; c < vocab; ++c)
      if (c != o.blank && row[c] > row[best]) best = c;
    const float threshold = std::min(o.token_min_logp, row[best]);
    ws.candidates.clear();
    for (int c = 0; c < vocab; ++c)
      if (c != o.blank && row[c] >= threshold) ws.candidates.emplace_back(row[c], c);
    if (static_cast<int>(ws.candidates.size()) > o.top_k) {
      auto by_prob = [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      };
      std::nth_element(ws.candidates.begin(), ws.candidates.begin() + o.top_k,
                       ws.candidates.end(), by_prob);
      ws.candidates.resize(o.top_k);
    }

    // an extension whose score cannot reach the pruning floor is not tried (the candidates are
    // in decreasing order, so the rest of them cannot either); the LM terms are left out here
    std::sort(ws.candidates.begin(), ws.candidates.end(), [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    if (std::isnan(best_score)) {  // stale after skipped frames
      best_score = kNegInf;
      for (int32_t b : ws.beams) {
        const Node& n = ws.nodes[b];
        best_score = std::max(best_score, log_add(n.pb, n.pnb) + n.base + n.heur);
      }
    }
    const float cutoff = best_score + std::max(lb, row[best]) + o.beam_prune_logp;

    ws.touched.clear();
    auto touch = [&](int32_t id) -> Node& {
      Node& n = ws.nodes[id];
      if (n.stamp != t) {
        n.stamp = t;
        n.npb = n.npnb = kNegInf;
        ws.touched.push_back(id);
      }
      return n;
    };
    for (int32_t b : ws.beams) {
      const float pb = ws.nodes[b].pb, pnb = ws.nodes[b].pnb;
      const int32_t last = ws.nodes[b].token;
      const float total = log_add(pb, pnb);
      {
        Node& n = touch(b);
        n.npb = log_add(n.npb, total + lb);
        if (last >= 0) n.npnb = log_add(n.npnb, pnb + row[last]);
      }
      const float score = total + ws.nodes[b].base + ws.nodes[b].heur;
      for (const auto& [logp, c] : ws.candidates) {
        if (score + logp < cutoff) break;
        const int32_t id = child(ws, b, c, t);
        if (!ws.nodes[id].valid) continue;
        Node& n = touch(id);
        const float extension = (c == last ? pb : total) + logp;
        n.npnb = log_add(n.npnb, extension);
        if (extension > n.emit) {
          n.emit = extension;
          n.frame = t;
        }
      }
    }

    ws.ranked.clear();
    for (int32_t id : ws.touched) {
      Node& n = ws.nodes[id];
      n.pb = n.npb;
      n.pnb = n.npnb;
      ws.ranked.push_back({log_add(n.pb, n.pnb) + n.base + n.heur, id});
    }
    if (lm_ && o.recombine && ws.ranked.size() > 1) recombine(ws);
    if (static_cast<int>(ws.ranked.size()) > o.beam_size) {
      std::nth_element(ws.ranked.begin(), ws.ranked.begin() + o.beam_size, ws.ranked.end());
      ws.ranked.resize(o.beam_size);
    }
    float top = kNegInf;
    for (const Ranked& r : ws.ranked) top = std::max(top, r.score);
    const float floor = top + o.beam_prune_logp;
    best_score = top;
    ws.beams.clear();
    for (const Ranked& r : ws.ranked) {
      if (r.score < floor || (r.score == kNegInf && !ws.beams.empty())) continue;
      ws.beams.push_back(r.node);
    }
  }

  // end of utterance: complete the partial word, close hotwords, add </s>
  struct Final {
    Ranked rank;
    float acoustic, lm;
    int32_t words;
  };
  // If every beam ends inside a word that is not in the lexicon (possible when constrained),
  // they are returned anyway, the last word scored as unknown, rather than nothing.
  std::vector<Final> finals;
  for (int pass = 0; pass < 2 && finals.empty(); ++pass)
  for (int32_t b : ws.beams) {
    const Node& n = ws.nodes[b];
    int32_t state = n.lm_state, hot = n.hot, words = n.words;
    float base = n.base, lm = n.lm, locked = 0.0f;
    if (n.word_bytes > 0 && !complete_word(ws, n.lex, &state, &base, &lm, &words, pass == 1))
      continue;
    if (hot_space_ >= 0) feed_hot(&hot, ' ', &locked);
    if (lm_) {
      const float s = lm_score(ws, state, lm_->eos_id(), &state);
      base += o.alpha * s;
      lm += s;
    }
    const float acoustic = log_add(n.pb, n.pnb);
    finals.push_back({{acoustic + base + locked, b}, acoustic, lm, words});
  }
  std::sort(finals.begin(), finals.end(),
            [](const Final& a, const Final& b) { return a.rank < b.rank; });
  std::vector<DecodeResult> out;
  for (const Final& f : finals) {
    if (static_cast<int>(out.size()) >= nbest) break;
    DecodeResult r;
    for (int32_t id = f.rank.node; id > 0; id = ws.nodes[id].parent) {
      r.tokens.push_back(ws.nodes[id].token);
      r.frames.push_back(std::max(ws.nodes[id].frame, 0));
    }
    std::reverse(r.tokens.begin(), r.tokens.end());
    std::reverse(r.frames.begin(), r.frames.end());
    r.score = f.rank.score;
    r.acoustic = f.acoustic;
    r.lm = f.lm;
    r.words = f.words;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<PrefixBeamSearch::WordSpan> PrefixBeamSearch::words(
    const std::vector<int32_t>& tokens, const std::vector<int32_t>& frames) const {
  std::vector<WordSpan> out;
  WordSpan current{"", 0, 0};
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t token = tokens[i];
    if (boundary_[token] && !current.word.empty()) {
      out.push_back(std::move(current));
      current = WordSpan{"", 0, 0};
    }
    const std::string& content = content_[token];
    if (content.empty()) continue;
    if (current.word.empty()) current.start = frames[i];
    current.word += content;
    current.end = frames[i] + 1;
  }
  if (!current.word.empty()) out.push_back(std::move(current));
  return out;
}

std::vector<DecodeResult> PrefixBeamSearch::decode(const float* log_probs, int time, int vocab,
                                                   int nbest) const {
  int64_t length = time;
  return decode_batch(log_probs, 1, time, vocab, &length, nbest, 1)[0];
}

std::vector<std::vector<DecodeResult>> PrefixBeamSearch::decode_batch(
    const float* log_probs, int batch, int time, int vocab, const int64_t* lengths, int nbest,
    int num_threads) const {
  std::vector<std::vector<DecodeResult>> out(batch);
  if (batch == 0) return out;
  if (num_threads <= 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  num_threads = std::min(num_threads, batch);
  const bool shared = num_threads > 1 && lm_ != nullptr;
  std::shared_lock<std::shared_mutex> running;
  if (shared) {
    int64_t frames = 0;
    for (int i = 0; i < batch; ++i) frames += lengths[i];
    if (std::unique_lock<std::shared_mutex> grow(memo_mutex_, std::try_to_lock); grow) {
      lm_memo_.prepare(static_cast<size_t>(frames));
      lookahead_memo_.prepare(static_cast<size_t>(4 * frames));
    }
    running = std::shared_lock<std::shared_mutex>(memo_mutex_);
  }
  std::atomic<int> next{0};
  auto worker = [&]() {
    std::unique_ptr<Workspace> ws;
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      if (!pool_.empty()) {
        ws = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    if (!ws) ws = std::make_unique<Workspace>();
    ws->shared = shared;
    for (int i = next++; i < batch; i = next++) {
      const float* lp = log_probs + static_cast<int64_t>(i) * time * vocab;
      out[i] = run(*ws, lp, static_cast<int>(lengths[i]), vocab, nbest);
    }
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.push_back(std::move(ws));
  };
  if (num_threads == 1) {
    worker();
    return out;
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < num_threads; ++i) threads.emplace_back(worker);
  for (auto& th : threads) th.join();
  return out;
}

}  // namespace carousel::decode
