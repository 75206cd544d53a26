// Python bindings of the decoders: plain pybind11 over numpy buffers (no torch headers).
// Decoding runs without the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <stdexcept>

#include "../bindings.h"
#include "greedy.h"
#include "ngram_lm.h"
#include "prefix_beam_search.h"

namespace py = pybind11;

namespace carousel {
namespace {

using decode::DecodeResult;
using decode::DecoderOptions;
using decode::NGramLM;
using decode::PrefixBeamSearch;
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using LongArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// (tokens, frames, score, acoustic, lm, words) with words a list of (word, start, end).
py::tuple to_python(const PrefixBeamSearch& search, const DecodeResult& r) {
  py::list words;
  for (const auto& w : search.words(r.tokens, r.frames))
    words.append(py::make_tuple(py::str(w.word), w.start, w.end));
  return py::make_tuple(r.tokens, r.frames, r.score, r.acoustic, r.lm, words);
}

void check_lengths(const LongArray& lengths, int batch, int time) {
  if (lengths.ndim() != 1 || lengths.shape(0) != batch)
    throw py::value_error("lengths must be (batch,) = (" + std::to_string(batch) + ",)");
  auto l = lengths.unchecked<1>();
  for (int i = 0; i < batch; ++i)
    if (l(i) < 0 || l(i) > time)
      throw py::value_error("lengths[" + std::to_string(i) + "] = " + std::to_string(l(i)) +
                            " is outside [0, " + std::to_string(time) + "]");
}

}  // namespace

void bind_decode(py::module_& m) {
  py::class_<NGramLM, std::shared_ptr<NGramLM>>(m, "NGramLM",
                                                "Word n-gram back-off LM read from an ARPA file")
      .def(py::init([](const std::string& path) {
             py::gil_scoped_release release;
             return std::make_shared<NGramLM>(path);
           }),
           py::arg("path"))
      .def_property_readonly("order", &NGramLM::order)
      .def_property_readonly("words", &NGramLM::words)
      .def_property_readonly("begin_state", &NGramLM::begin_state)
      .def_property_readonly("null_state", &NGramLM::null_state)
      .def("word_id", &NGramLM::word_id)
      .def("score",
           [](const NGramLM& lm, int state, int word) {
             int next = 0;
             const float s = lm.score(state, word, &next);
             return py::make_tuple(s, next);
           },
           "ln p(word | state) and the next state");

  py::class_<DecoderOptions>(m, "DecoderOptions")
      .def(py::init<>())
      .def_readwrite("blank", &DecoderOptions::blank)
      .def_readwrite("delimiter", &DecoderOptions::delimiter)
      .def_readwrite("word_prefix", &DecoderOptions::word_prefix)
      .def_readwrite("beam_size", &DecoderOptions::beam_size)
      .def_readwrite("top_k", &DecoderOptions::top_k)
      .def_readwrite("alpha", &DecoderOptions::alpha)
      .def_readwrite("beta", &DecoderOptions::beta)
      .def_readwrite("token_min_logp", &DecoderOptions::token_min_logp)
      .def_readwrite("beam_prune_logp", &DecoderOptions::beam_prune_logp)
      .def_readwrite("blank_skip_logp", &DecoderOptions::blank_skip_logp)
      .def_readwrite("unk_score", &DecoderOptions::unk_score)
      .def_readwrite("lexicon_constrained", &DecoderOptions::lexicon_constrained)
      .def_readwrite("score_words", &DecoderOptions::score_words)
      .def_readwrite("recombine", &DecoderOptions::recombine)
      .def_property(
          "context_lookahead",
          [](const DecoderOptions& o) { return o.lm_lookahead == decode::LookAhead::kContext; },
          [](DecoderOptions& o, bool on) {
            o.lm_lookahead = on ? decode::LookAhead::kContext : decode::LookAhead::kUnigram;
          },
          "look-ahead conditioned on the LM context (else unigram)");

  py::class_<PrefixBeamSearch>(m, "PrefixBeamSearch", "CTC prefix beam search with word LM fusion")
      .def(py::init([](std::vector<std::string> tokens, const DecoderOptions& options,
                       std::shared_ptr<NGramLM> lm, const std::vector<std::string>& lexicon,
                       bool use_lm_vocab,
                       const std::vector<std::pair<std::string, float>>& hotwords) {
             return std::make_unique<PrefixBeamSearch>(std::move(tokens), options, lm, lexicon,
                                                       use_lm_vocab, hotwords);
           }),
           py::arg("tokens"), py::arg("options"), py::arg("lm"), py::arg("lexicon"),
           py::arg("use_lm_vocab"), py::arg("hotwords"))
      .def_property_readonly("lexicon_size", &PrefixBeamSearch::lexicon_size)
      .def("lookahead_after", &PrefixBeamSearch::lookahead_after, py::arg("history"),
           py::arg("prefix"), "unweighted LM look-ahead of a partial word after history")
      .def(
          "decode_batch",
          [](const PrefixBeamSearch& self, const FloatArray& log_probs, const LongArray& lengths,
             int nbest, int num_threads) {
            if (log_probs.ndim() != 3)
              throw py::value_error("log_probs must be (batch, time, vocab)");
            const int batch = static_cast<int>(log_probs.shape(0));
            const int time = static_cast<int>(log_probs.shape(1));
            const int vocab = static_cast<int>(log_probs.shape(2));
            check_lengths(lengths, batch, time);
            std::vector<std::vector<DecodeResult>> results;
            {
              py::gil_scoped_release release;
              results = self.decode_batch(log_probs.data(), batch, time, vocab, lengths.data(),
                                          nbest, num_threads);
            }
            py::list out;
            for (const auto& hyps : results) {
              py::list items;
              for (const auto& r : hyps) items.append(to_python(self, r));
              out.append(items);
            }
            return out;
          },
          py::arg("log_probs"), py::arg("lengths"), py::arg("nbest") = 1,
          py::arg("num_threads") = 0,
          "(batch, time, vocab) float32 log-probs -> per item a list of (tokens, frames, score, "
          "acoustic, lm, [(word, start, end)])");

  m.def(
      "greedy_batch",
      [](const FloatArray& log_probs, const LongArray& lengths, int blank) {
        if (log_probs.ndim() != 3) throw py::value_error("log_probs must be (batch, time, vocab)");
        const int batch = static_cast<int>(log_probs.shape(0));
        const int time = static_cast<int>(log_probs.shape(1));
        const int vocab = static_cast<int>(log_probs.shape(2));
        check_lengths(lengths, batch, time);
        std::vector<decode::GreedyResult> results;
        {
          py::gil_scoped_release release;
          results = decode::greedy_batch(log_probs.data(), batch, time, vocab, lengths.data(),
                                         blank);
        }
        py::list out;
        for (const auto& r : results) out.append(py::make_tuple(r.tokens, r.frames, r.score));
        return out;
      },
      py::arg("log_probs"), py::arg("lengths"), py::arg("blank") = 0,
      "Best-path decoding of (batch, time, vocab) -> list of (tokens, frames, score)");
}

}  // namespace carousel
