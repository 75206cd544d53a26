// A trie over UTF-8 bytes, used for the lexicon (word look-ahead) and for hotword phrases.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace carousel::decode {

class ByteTrie {
 public:
  ByteTrie() { nodes_.emplace_back(); }

  // Inserts key; returns its final node.
  int32_t insert(const std::string& key) {
    int32_t node = 0;
    for (unsigned char c : key) {
      int32_t next = child(node, c);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        nodes_[next].depth = nodes_[node].depth + 1;
        nodes_[next].parent = node;
        nodes_[node].children.push_back({c, next});
      }
      node = next;
    }
    return node;
  }

  int32_t child(int32_t node, unsigned char c) const {
    for (const auto& [byte, next] : nodes_[node].children)
      if (byte == c) return next;
    return -1;
  }

  // Follows bytes from node; -1 as soon as one is missing.
  int32_t walk(int32_t node, const std::string& bytes) const {
    for (unsigned char c : bytes) {
      if (node < 0) return -1;
      node = child(node, c);
    }
    return node;
  }

  int32_t size() const { return static_cast<int32_t>(nodes_.size()); }
  int32_t depth(int32_t node) const { return nodes_[node].depth; }
  int32_t parent(int32_t node) const { return nodes_[node].parent; }  // -1 for the root
  const std::vector<std::pair<unsigned char, int32_t>>& children(int32_t node) const {
    return nodes_[node].children;
  }


 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t depth = 0;
    int32_t parent = -1;
  };
  std::vector<Node> nodes_;
};

}  // namespace carousel::decode
