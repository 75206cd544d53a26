"""English sentences for the generated corpora and their language model.

No public-domain prose corpus can be installed offline on our build machines, so by default the
sentences come from a small seeded probabilistic grammar over a curated vocabulary (about 600
words). The grammar gives the text real word-order structure, so an n-gram LM built from the
training sentences helps the decoder, as on real data. ``--text FILE`` (one sentence per line)
replaces it with any text a user has.

Splits are sentence-disjoint: ``split_sentences`` never puts a sentence of the test or dev split
into the training split, so LM and acoustic numbers on held-out data are honest.

Usage as a script: ``python tools/corpus_text.py --count 1000 --seed 1 > sentences.txt``.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator

NOUNS = """
apple army baby bag ball band bank basket bed bell bird boat body book bottle box boy branch
bread bridge brother brush bucket cake camera candle captain car card carpet cat chair cheese
child church city clock cloud coat coin cook corner cousin cow cup curtain daughter desk doctor
dog door dragon dream drum duck eagle egg engine farmer father feather field finger fire fish
flag floor flower fog forest fox friend frog garden gate ghost girl glass glove goat gold
grandmother grass guard guitar hammer hand harbor hat hill horse house hunter island jacket
judge kettle key king kitchen knife ladder lady lake lamp lawyer leaf letter library lion
machine map market meadow mirror monkey moon mother mountain mouse nail needle nest net newspaper
nurse ocean office orange owl painter palace paper parrot pencil piano picture pig pilot plate
poet pocket pony prince princess queen rabbit radio rain river road robot rock roof rope sailor
school scientist sheep shelf ship shoe shop singer sister soldier spoon star station stone storm
stranger street student sun table teacher tiger tower town toy train tree truck uncle valley
village violin wagon wall watch whale wheel window wolf woman worker writer
""".split()

PLURAL_EXCEPTIONS = {
    "child": "children", "woman": "women", "mouse": "mice", "sheep": "sheep", "fish": "fish",
    "goose": "geese", "man": "men", "foot": "feet", "tooth": "teeth", "knife": "knives",
    "leaf": "leaves", "wolf": "wolves",
}

ADJECTIVES = """
ancient angry beautiful big bitter black blue brave bright broken busy calm careful cheerful
clever cold curious dark deep dusty eager early empty enormous famous fast fierce foolish
friendly gentle giant golden green grey happy heavy hidden honest huge hungry kind large lazy
little lonely long loud lucky magic narrow new noisy old orange patient polite poor proud quiet
quick rapid red rich rough round sad shiny short silent silver simple sleepy slow small smooth
soft strange strong sweet tall thin tiny tired ugly warm weak wet white wild wise wooden yellow
young
""".split()

# base form, third person singular, past tense
TRANSITIVE = [tuple(v.split("/")) for v in """
admire/admires/admired build/builds/built carry/carries/carried catch/catches/caught
chase/chases/chased clean/cleans/cleaned draw/draws/drew drop/drops/dropped find/finds/found
follow/follows/followed guard/guards/guarded help/helps/helped hide/hides/hid hold/holds/held
keep/keeps/kept kick/kicks/kicked lift/lifts/lifted like/likes/liked love/loves/loved
mend/mends/mended miss/misses/missed move/moves/moved need/needs/needed open/opens/opened
paint/paints/painted pull/pulls/pulled push/pushes/pushed reach/reaches/reached read/reads/read
remember/remembers/remembered see/sees/saw sell/sells/sold send/sends/sent share/shares/shared
show/shows/showed steal/steals/stole take/takes/took teach/teaches/taught throw/throws/threw
touch/touches/touched visit/visits/visited want/wants/wanted wash/washes/washed
watch/watches/watched
""".split()]

INTRANSITIVE = [tuple(v.split("/")) for v in """
arrive/arrives/arrived dance/dances/danced fall/falls/fell laugh/laughs/laughed
listen/listens/listened rest/rests/rested run/runs/ran shout/shouts/shouted sing/sings/sang
sit/sits/sat sleep/sleeps/slept smile/smiles/smiled stand/stands/stood swim/swims/swam
talk/talks/talked wait/waits/waited walk/walks/walked whisper/whispers/whispered work/works/worked
""".split()]

PREPOSITIONS = """
above across after along among around behind below beneath beside between beyond by from
inside into near over past through toward under with without
""".split()

ADVERBS = """
always quietly slowly quickly happily sadly softly loudly carefully bravely suddenly often
rarely never gladly gently early late again soon
""".split()

TIMES = ["yesterday", "today", "tonight", "tomorrow", "every morning", "every evening",
         "last night", "in the spring", "in the winter", "at noon", "at dawn", "after dinner",
         "before sunrise", "on sunday"]

PLACES_PHRASES = ["at home", "at school", "in the city", "by the sea", "on the hill",
                  "in the garden", "near the river", "under the bridge", "in the old house"]

NAMES = """
alice arthur clara daniel edith frank grace henry isaac julia laura martin nora oliver peter
rose samuel thomas victor walter
""".split()

DETERMINERS_SG = ["the", "a", "this", "that", "every", "my", "your", "her", "his", "our", "their"]
DETERMINERS_PL = ["the", "some", "these", "those", "many", "two", "three", "my", "our", "their"]
CONJUNCTIONS = ["and", "but", "because", "while", "when", "so", "although", "until"]


def plural(noun: str) -> str:
    if noun in PLURAL_EXCEPTIONS:
        return PLURAL_EXCEPTIONS[noun]
    if noun.endswith(("s", "sh", "ch", "x")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


class SentenceGrammar:
    """A seeded probabilistic grammar: noun phrases, agreement, tense, clauses."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def noun_phrase(self) -> tuple[str, bool]:
        """A noun phrase and whether it is plural."""
        r = self.rng
        if r.random() < 0.12:
            return r.choice(NAMES), False
        is_plural = r.random() < 0.3
        noun = r.choice(NOUNS)
        det = r.choice(DETERMINERS_PL if is_plural else DETERMINERS_SG)
        words = [det]
        if r.random() < 0.55:
            words.append(r.choice(ADJECTIVES))
        words.append(plural(noun) if is_plural else noun)
        if det == "a" and words[1][0] in "aeiou":
            words[0] = "an"
        return " ".join(words), is_plural

    def verb_phrase(self, plural_subject: bool) -> str:
        r = self.rng
        past = r.random() < 0.5
        if r.random() < 0.65:
            base, third, pret = r.choice(TRANSITIVE)
            verb = pret if past else (base if plural_subject else third)
            obj, _ = self.noun_phrase()
            words = [verb, obj]
        else:
            base, third, pret = r.choice(INTRANSITIVE)
            words = [pret if past else (base if plural_subject else third)]
        if r.random() < 0.25:
            words.insert(0 if r.random() < 0.5 else len(words), r.choice(ADVERBS))
        if r.random() < 0.45:
            np_, _ = self.noun_phrase()
            words.append(f"{r.choice(PREPOSITIONS)} {np_}")
        elif r.random() < 0.2:
            words.append(r.choice(PLACES_PHRASES))
        return " ".join(words)

    def clause(self) -> str:
        subject, is_plural = self.noun_phrase()
        return f"{subject} {self.verb_phrase(is_plural)}"

    def sentence(self) -> str:
        r = self.rng
        parts = [self.clause()]
        if r.random() < 0.3:
            parts.append(f"{r.choice(CONJUNCTIONS)} {self.clause()}")
        if r.random() < 0.2:
            parts.insert(0, r.choice(TIMES))
        return " ".join(parts)


def generate(count: int, seed: int, min_words: int = 4, max_words: int = 18) -> Iterator[str]:
    """``count`` distinct sentences (lower case, no punctuation) of ``min_words``..``max_words``."""
    grammar = SentenceGrammar(seed)
    seen: set[str] = set()
    while len(seen) < count:
        text = grammar.sentence()
        if min_words <= len(text.split()) <= max_words and text not in seen:
            seen.add(text)
            yield text


def split_sentences(counts: dict[str, int], seed: int,
                    text_file: str | None = None) -> dict[str, list[str]]:
    """Sentence-disjoint splits, e.g. ``{"train": 800, "dev": 100, "test": 100}``.

    From ``text_file`` (one sentence per line) when given, else from the grammar.
    """
    total = sum(counts.values())
    if text_file:
        with open(text_file, encoding="utf-8") as handle:
            pool = list(dict.fromkeys(line.strip() for line in handle if line.strip()))
        if len(pool) < total:
            raise SystemExit(f"{text_file}: {len(pool)} distinct sentences, {total} needed")
        random.Random(seed).shuffle(pool)
    else:
        pool = list(generate(total, seed))
    out, start = {}, 0
    for name, n in counts.items():
        out[name] = pool[start:start + n]
        start += n
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    for text in generate(args.count, args.seed):
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
