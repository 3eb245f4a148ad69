"""Display names: "Adjective Animal #XXXX", derived from a public address only.

A display name is a friendly label, not an identifier: two identities may share one (a name
carries only 32 bits), so anything that matters compares QuickoKeys or safety numbers. It is
computed from the public address alone, never from a secret (DESIGN.md §4.1).

What a peer *claims* as its name (in its Hello, its bundle, a relay's Joined or PeerJoined, a
directory entry) is a free string that proves nothing. Front-ends show the derived name first
and always (:func:`shown_name`); a claim that differs from it is at most appended, cleaned and
labelled as a claim (:func:`claimed_name`). An honest client always claims its derived name, so a
different claim is itself a warning sign (DESIGN.md §4.3, "Names on screen").
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Final

from quicko.crypto import kdf

__all__ = [
    "ADJECTIVES",
    "ANIMALS",
    "DISPLAY_NAME_LABEL",
    "MAX_CLAIM_CHARS",
    "claimed_name",
    "display_name",
    "shown_name",
]

MAX_CLAIM_CHARS: Final = 32
"""Characters of a claimed name kept for display (longer claims are cut, with an ellipsis)."""

#: Domain-separation label of the display-name hash.
DISPLAY_NAME_LABEL = kdf.identity_label("display-name")

# The order of both lists is fixed forever: changing it renames everyone.
# fmt: off
ADJECTIVES: tuple[str, ...] = (
    "Able", "Active", "Adept", "Agile", "Airy", "Amber", "Amiable", "Ample", "Ardent", "Artful",
    "Assured", "Astute", "Auburn", "Azure", "Balanced", "Balmy", "Beaming", "Benign", "Blissful",
    "Blithe", "Bold", "Bonny", "Bouncy", "Boundless", "Brave", "Breezy", "Bright", "Brilliant",
    "Brisk", "Bubbly", "Buoyant", "Calm", "Candid", "Capable", "Careful", "Caring", "Charming",
    "Cheerful", "Cheery", "Chipper", "Classic", "Clear", "Clever", "Coastal", "Cobalt", "Colorful",
    "Composed", "Content", "Coral", "Cordial", "Cosmic", "Cosy", "Courteous", "Courtly", "Cozy",
    "Crafty", "Crimson", "Crisp", "Crystal", "Curious", "Dainty", "Dapper", "Daring", "Dashing",
    "Dazzling", "Deft", "Devoted", "Dewy", "Diligent", "Discreet", "Dreamy", "Dutiful", "Dynamic",
    "Eager", "Earnest", "Earthy", "Elegant", "Eloquent", "Emerald", "Epic", "Ethereal", "Fabled",
    "Fabulous", "Fair", "Faithful", "Fancy", "Fearless", "Feisty", "Fervent", "Festive", "Fiery",
    "Firm", "Flawless", "Fleet", "Fluent", "Fond", "Frank", "Free", "Fresh", "Friendly", "Frosty",
    "Gallant", "Generous", "Gentle", "Genuine", "Gifted", "Gilded", "Glad", "Gleaming", "Glowing",
    "Golden", "Graceful", "Gracious", "Grand", "Grateful", "Hale", "Handy", "Happy", "Hardy",
    "Harmonious", "Hearty", "Helpful", "Heroic", "Honest", "Honeyed", "Hopeful", "Humble", "Ideal",
    "Inventive", "Ivory", "Jade", "Jaunty", "Jolly", "Jovial", "Joyful", "Jubilant", "Just",
    "Keen", "Kind", "Kindly", "Lavish", "Lilac", "Lively", "Lofty", "Loyal", "Lucid", "Lucky",
    "Lunar", "Lush", "Lyrical", "Magic", "Majestic", "Mellow", "Merciful", "Merry", "Mighty",
    "Mild", "Mindful", "Modest", "Musical", "Mystic", "Neat", "Nimble", "Noble", "Novel", "Open",
    "Patient", "Peaceful", "Pearly", "Peppy", "Perky", "Placid", "Playful", "Plucky", "Poised",
    "Polished", "Polite", "Precise", "Prime", "Proud", "Prudent", "Quick", "Quiet", "Quirky",
    "Radiant", "Rapid", "Rare", "Ready", "Regal", "Resolute", "Restful", "Robust", "Rosy", "Royal",
    "Rugged", "Rustic", "Sage", "Serene", "Sharp", "Shiny", "Silken", "Silver", "Sincere", "Sleek",
    "Smart", "Smiling", "Snappy", "Snowy", "Snug", "Solar", "Solid", "Sparkling", "Spirited",
    "Splendid", "Sporty", "Spry", "Stable", "Starry", "Stately", "Steady", "Stellar", "Sterling",
    "Stout", "Strong", "Sturdy", "Sublime", "Sunlit", "Sunny", "Sure", "Swift", "Tactful",
    "Tender", "Thrifty", "Tidy", "Timely", "Tranquil", "Trusty", "Truthful", "Upbeat", "Valiant",
    "Velvet", "Verdant", "Vibrant", "Vital", "Vivid", "Warm", "Willing", "Winsome", "Wise",
    "Witty", "Wonderful", "Worthy", "Youthful", "Zany", "Zealous", "Zesty",
)

ANIMALS: tuple[str, ...] = (
    "Aardvark", "Albatross", "Alligator", "Alpaca", "Anole", "Ant", "Antelope", "Armadillo",
    "Axolotl", "Baboon", "Badger", "Barracuda", "Bat", "Bear", "Beaver", "Bee", "Beetle", "Beluga",
    "Bison", "Bittern", "Blackbird", "Bluebird", "Boar", "Bobcat", "Bonobo", "Buffalo", "Bull",
    "Bumblebee", "Butterfly", "Camel", "Canary", "Capybara", "Caracal", "Cardinal", "Caribou",
    "Carp", "Cat", "Catfish", "Chameleon", "Cheetah", "Chickadee", "Chinchilla", "Chipmunk",
    "Cicada", "Cockatoo", "Condor", "Cormorant", "Cougar", "Cow", "Coyote", "Crab", "Crane",
    "Crayfish", "Cricket", "Crow", "Cuckoo", "Curlew", "Deer", "Dingo", "Dolphin", "Donkey",
    "Dormouse", "Dove", "Dragonfly", "Duck", "Dugong", "Dunlin", "Eagle", "Echidna", "Eel",
    "Egret", "Eland", "Elephant", "Elk", "Emu", "Ermine", "Falcon", "Ferret", "Finch", "Firefly",
    "Flamingo", "Fox", "Frog", "Gannet", "Gazelle", "Gecko", "Gerbil", "Gibbon", "Giraffe", "Gnu",
    "Goat", "Goldfinch", "Goose", "Gopher", "Gorilla", "Grasshopper", "Grouse", "Gull", "Hamster",
    "Hare", "Harrier", "Hawk", "Hedgehog", "Heron", "Herring", "Hippo", "Hornbill", "Horse",
    "Hummingbird", "Hyena", "Ibex", "Ibis", "Iguana", "Impala", "Jackal", "Jaguar", "Jay",
    "Jellyfish", "Kangaroo", "Kestrel", "Kingfisher", "Kinkajou", "Kite", "Kiwi", "Koala", "Koi",
    "Kookaburra", "Ladybug", "Lark", "Lemming", "Lemur", "Leopard", "Lion", "Lizard", "Llama",
    "Lobster", "Loon", "Lynx", "Macaw", "Mackerel", "Magpie", "Mallard", "Manatee", "Mandrill",
    "Manta", "Marlin", "Marmoset", "Marmot", "Marten", "Meerkat", "Mink", "Mole", "Mongoose",
    "Monkey", "Moose", "Moth", "Mouse", "Mule", "Muskox", "Narwhal", "Newt", "Nightingale",
    "Nuthatch", "Ocelot", "Octopus", "Okapi", "Opossum", "Orca", "Oriole", "Oryx", "Osprey",
    "Ostrich", "Otter", "Owl", "Ox", "Oyster", "Panda", "Pangolin", "Panther", "Parrot",
    "Partridge", "Peacock", "Pelican", "Penguin", "Petrel", "Pheasant", "Pigeon", "Pika", "Pike",
    "Platypus", "Plover", "Pony", "Porcupine", "Porpoise", "Puffin", "Puma", "Quail", "Quetzal",
    "Quokka", "Rabbit", "Raccoon", "Ram", "Raven", "Reindeer", "Robin", "Rook", "Sable",
    "Salamander", "Salmon", "Sandpiper", "Seahorse", "Seal", "Shark", "Sheep", "Shrimp", "Skink",
    "Skylark", "Sloth", "Snail", "Snipe", "Sparrow", "Squid", "Squirrel", "Starling", "Stingray",
    "Stork", "Swallow", "Swan", "Tapir", "Tarsier", "Tern", "Terrapin", "Tiger", "Toad",
    "Tortoise", "Toucan", "Trout", "Tuna", "Turkey", "Turtle", "Urchin", "Vicuna", "Vole",
    "Wallaby", "Walrus", "Warbler", "Weasel", "Whale", "Wildcat", "Wolf", "Wolverine", "Wombat",
    "Woodpecker", "Wren", "Yak", "Zebra",
)
# fmt: on


@functools.lru_cache(maxsize=1024)  # a pure function of the address, asked for on every text
def display_name(address: bytes) -> str:
    """Return the display name of an address.

    The name is ``ADJECTIVES[h[0]] + " " + ANIMALS[h[1]] + " #" + hex(h[2:4])`` where ``h`` is
    the domain-separated SHA-256 of the address.

    Args:
        address: a 16-byte QuickoKey address.

    Returns:
        A name such as ``"Swift Falcon #7A3F"``.
    """
    digest = kdf.sha256(DISPLAY_NAME_LABEL, address)
    tag = digest[2:4].hex().upper()
    return f"{ADJECTIVES[digest[0]]} {ANIMALS[digest[1]]} #{tag}"


def claimed_name(address: bytes, claim: str) -> str | None:
    """Return what a peer claims as its name, cleaned, if it differs from its derived name.

    The claim is made safe to show inside a label: control, format and separator characters
    (new lines, bidirectional overrides, zero-width joiners) become spaces, runs of spaces
    collapse, double quotes become single ones (so a claim cannot close the quotes it is shown
    in), and it is cut to :data:`MAX_CLAIM_CHARS` characters.

    Args:
        address: the peer's 16-byte address.
        claim: the name it claims (possibly empty).

    Returns:
        The cleaned claim, or ``None`` when it is empty or the same as :func:`display_name`.
    """
    kept = "".join(" " if unicodedata.category(char)[0] in "CZ" else char for char in claim)
    cleaned = " ".join(kept.split()).replace('"', "'")
    if not cleaned or cleaned == display_name(address):
        return None
    if len(cleaned) > MAX_CLAIM_CHARS:
        cleaned = cleaned[: MAX_CLAIM_CHARS - 1].rstrip() + "…"
    return cleaned


def shown_name(address: bytes, claim: str = "") -> str:
    """Return the name to show for an address: derived, with a differing claim labelled.

    Args:
        address: the peer's 16-byte address.
        claim: the name it claims (its Hello's, bundle's or directory entry's), if any.

    Returns:
        ``"Swift Falcon #7A3F"``, or ``'Swift Falcon #7A3F (claims "Alice")'`` when the peer
        claims another name.
    """
    name = display_name(address)
    claimed = claimed_name(address, claim)
    return name if claimed is None else f'{name} (claims "{claimed}")'
