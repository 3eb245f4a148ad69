"""The 256 words of the seed phrase, one per byte value.

Provenance: these are the words at indices 0, 8, 16, …, 2040 (every 8th word) of the BIP-39
English word list (``english.txt`` of https://github.com/bitcoin/bips/blob/master/bip-0039/,
shipped as ``mnemonic/wordlist/english.txt`` in the ``mnemonic`` 0.21 wheel, SHA-256
``2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda``), used under the MIT
licence of the BIP-39 word lists. Like the whole BIP-39 list, these words are unique in their
first four letters, so a word may be typed as a prefix of four letters or more.

The order is fixed forever: word ``WORDS[b]`` encodes byte value ``b``. Changing it would make
every written-down seed phrase recover a different identity.
"""

from __future__ import annotations

__all__ = ["WORDS"]

# fmt: off
WORDS: tuple[str, ...] = (
    "abandon", "absurd", "acoustic", "adapt", "advice", "agree", "alcohol", "alpha", "amount",
    "animal", "anxiety", "arch", "army", "artist", "asthma", "audit", "avoid", "baby", "bamboo",
    "basic", "beef", "bench", "bid", "blade", "blossom", "boil", "borrow", "brand", "bright",
    "brown", "bulk", "business", "cactus", "canal", "capital", "cart", "catch", "celery",
    "champion", "check", "chimney", "cinnamon", "claw", "climb", "clown", "code", "come",
    "congress", "copy", "country", "craft", "credit", "cross", "crush", "current", "damage", "day",
    "decorate", "deliver", "deposit", "despair", "dial", "dignity", "disease", "divorce", "donate",
    "dragon", "drink", "dune", "eagle", "ecology", "either", "elite", "empower", "energy",
    "enrich", "equal", "escape", "evoke", "excuse", "exotic", "extra", "faith", "fantasy",
    "favorite", "fence", "figure", "finish", "fix", "flip", "foam", "force", "foster", "fringe",
    "fun", "gallery", "gas", "genre", "ginger", "glide", "goat", "govern", "gravity", "grow",
    "gym", "harbor", "head", "help", "hire", "home", "host", "humor", "hybrid", "illegal",
    "improve", "indoor", "inject", "insect", "invite", "jacket", "job", "jungle", "key", "kitchen",
    "lab", "laptop", "lawn", "lecture", "length", "library", "link", "loan", "lottery", "lunar",
    "maid", "mandate", "marine", "math", "meat", "mention", "metal", "minimum", "mix", "monitor",
    "mosquito", "much", "must", "narrow", "neglect", "never", "noodle", "novel", "object",
    "october", "old", "only", "orchard", "other", "own", "pair", "parade", "patient", "pear",
    "perfect", "piano", "pink", "plastic", "poem", "pool", "poverty", "present", "prison",
    "project", "public", "puppy", "pyramid", "quote", "rain", "rare", "reason", "reduce", "relax",
    "render", "require", "retreat", "ribbon", "ring", "roast", "rose", "rug", "safe", "sample",
    "scale", "scissors", "search", "seek", "series", "shallow", "ship", "shove", "siege", "simple",
    "skate", "slam", "slot", "snack", "sock", "someone", "source", "speed", "spirit", "spread",
    "staff", "steak", "stock", "strike", "submit", "suit", "sure", "swallow", "swing", "tackle",
    "task", "tenant", "theme", "three", "tilt", "toast", "tomato", "topic", "toward", "train",
    "trend", "trouble", "tube", "twelve", "ugly", "unfair", "unlock", "upper", "useless", "valve",
    "velvet", "vessel", "village", "vital", "voyage", "warfare", "way", "weekend", "wheel", "wild",
    "winter", "wonder", "wrap", "yellow",
)
# fmt: on
