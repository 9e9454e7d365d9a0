"""Word lists of the order domain: unit words, small talk, and shorthand outlets write."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


class UnitKind(StrEnum):
    """What a unit word after a number counts."""

    CASE = "case"  # one catalog selling unit, whatever its name (carton, bundle, pack …)
    PIECE = "piece"  # single pieces, converted with the product's pack size
    # "box" or "bag" after the count at the end of an item ("750ml lid 2 box"): the selling unit of a product that
    # is not itself a box or a bag, a piece of one that is ("12 inch pizza 500 box")
    CONTAINER = "container"
    WEIGHT = "weight"  # "50kg flour": kilograms, divided by the weight the product's name states ("25kg")
    # one vessel ("24 bottles", "4 cans", "3 rolls"): the catalog unit of a product sold by that vessel or singly
    # (a 5 L can, a roll of foil, a roll of 30 bags), a piece of one sold in cases or packs (a case of 12 bottles)
    VESSEL = "vessel"


# Outlets use carton, bundle and pack interchangeably for "one of whatever you sell it in".
CASE_UNITS: Final = _words(
    "ctn ctns cnt carton cartons cartoon cartoons cartn crtn case cases bundle bundles bundel bundels bundl bdl bdls "
    "bdle bdles bndl bndls pkt pkts packet packets pack packs pk pks bale bales cartns catons cartens crtns ctnss "
    "bundels bndles bundlez paket pakets packts pkets cs slab slabs crate crates "
    "dus karton krat pak bal karung jeriken jerigen tabung peti"  # Indonesian: box, carton, crate, sack, jerrycan …
)
PIECE_UNITS: Final = _words(
    # ea: each; nos: numbers; butir, buah: Indonesian pieces
    "pc pcs pce pcss piece pieces nos unit units set sets pair pairs sheet sheets ea butir buah"
)
VESSEL_UNITS: Final = _words(
    "btl btls bottle bottles can cans tin tins jar jars tub tubs sachet sachets sleeve sleeves roll rolls block blocks "
    "bar bars sack sacks strip strips banig botol kaleng bungkus pouch pouches jerrycan jerrycans"
)
WEIGHT_UNITS: Final = _words("kg kgs kilo kilos kilogram kilograms")
# Also product words ("pizza boxes", "kraft bags"): a unit only in "N boxes of …".
OF_UNITS: Final = _words("box boxes bag bags")
COUNT_UNITS: Final = CASE_UNITS | PIECE_UNITS | VESSEL_UNITS  # a unit word after a count, whatever the product
UNIT_WORDS: Final = COUNT_UNITS | OF_UNITS
# The count units as a regular-expression alternative, longest first ("ctns" before "ctn").
COUNT_UNIT_PATTERN: Final = "(?:" + "|".join(sorted(COUNT_UNITS, key=len, reverse=True)) + ")"

# Words that carry no product meaning: politeness, verbs of ordering, delivery talk, pronouns, time.
FILLER_WORDS: Final = _words(
    """pls please plz pl kindly send sent deliver delivery dispatch need needs needed want wants would like could can
    may might will shall to for of the a an some more also another additional extra add and with our my me us we i
    you your it its this that these those them is are be been was were get give require required order orders
    ordering form outlet branch store shop restaurant thanks thank thx tq ty hi hello hey dear boss sir madam mdm good
    morning afternoon evening noon tomorrow tmr tmrw today tonight urgent urgently asap rush by before after latest at
    on in as usual same again ok okay ya yes yeah just only total qty quantity each per x item items stock restock top
    up here there now am pm lah leh ah hor bro sis team thankyou cheers regards rgds best wishes following below list
    new week next monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun much many lot
    lots around approx approximately about do does did have has had let know all any both either what which how when
    where who why if so too very really day days hour hours minute minutes mins month months time times people pax
    staff guy guys kid kids customer customers hope hoping sure matching respective ones thks tks hav help ran run
    running low finish finished left call out arrange prepare supply provide bring check pcs change changed sorry
    typo should correction correct revise revised revision update updated amend amended instead actually tapau
    bungkus but uh um er erm eh oh hmm lor meh maybe scratch wait no enough cancel remove delete minus already few
    several lai la skip use uses used using take trip"""
)

# Shorthand → the word the catalog uses. Run-together words ("pizzabox") are split by the index instead.
ABBREVIATIONS: Final = {
    "reg": "regular",
    "std": "standard",
    "prem": "premium",
    "bx": "box",
    "bxs": "box",
    "ctnr": "container",
    "cont": "container",
    "contr": "container",
    "ctr": "container",
    "cntr": "container",
    "rect": "rectangular",
    "rectangle": "rectangular",
    "pza": "pizza",
    "chopstix": "chopstick",
    "cover": "lid",  # "cover for the rectangle box", "bento cover"
    "covers": "lid",
}
