"""The product catalog: ids, names, categories, prices in the category's range, stock and status.

The catalog is state: product updates change prices, stock, descriptions and status, and the shop
sells at the price in force at the moment of the order (a per-product history of price changes is
kept for the window in which sessions can still be open).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
from faker import Faker

from ecap import schemas

from .calendar import CATEGORIES
from .encode import json_str
from .search import searchsorted_many

STATUS_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(schemas.PRODUCT_STATUSES)}
ACTIVE: Final = STATUS_INDEX["active"]
OUT_OF_STOCK: Final = STATUS_INDEX["out_of_stock"]
DISCONTINUED: Final = STATUS_INDEX["discontinued"]

PRICE_RANGES_CENTS: Final = np.asarray(
    [[round(lo * 100), round(hi * 100)] for lo, hi in schemas.CATEGORY_PRICE_RANGES.values()], dtype=np.int64
)

_NOUNS: Final[dict[str, tuple[str, ...]]] = {
    "Electronics": (
        "Headphones",
        "Laptop",
        "Smartphone",
        "Tablet",
        "Smartwatch",
        "Camera",
        "Speaker",
        "Monitor",
    ),
    "Clothing": ("Jacket", "T-Shirt", "Jeans", "Sweater", "Dress", "Sneakers", "Hoodie", "Scarf"),
    "Books": ("Novel", "Cookbook", "Biography", "Travel Guide", "Poetry Collection", "Atlas", "Thriller"),
    "Home & Garden": ("Lamp", "Planter", "Cookware Set", "Rug", "Garden Hose", "Armchair", "Bedding Set"),
    "Sports": ("Yoga Mat", "Running Shoes", "Tennis Racket", "Bicycle", "Dumbbell Set", "Tent", "Backpack"),
    "Beauty": ("Face Cream", "Perfume", "Lipstick", "Shampoo", "Serum", "Nail Polish", "Hair Dryer"),
    "Toys": ("Puzzle", "Building Blocks", "Doll", "Board Game", "Toy Car", "Plush Bear", "Kite"),
    "Jewelry": ("Necklace", "Ring", "Bracelet", "Earrings", "Watch", "Pendant", "Brooch"),
}
_ADJECTIVES: Final = (
    "Classic", "Premium", "Eco", "Compact", "Deluxe", "Smart", "Vintage", "Modern", "Ultra", "Essential",
    "Pro", "Lite", "Signature", "Urban", "Organic", "Handmade",
)  # fmt: skip
SEARCH_TERMS_PER_CATEGORY: Final = 24
_MAX_CENTS: Final = 2**62
_CATEGORY_KEY_SPAN: Final = float(2**34)
"""Offset between two categories' price keys in the pick index: above any price or target (cents)."""


@dataclass
class Catalog:
    """Current product state (as of the latest generated update) plus recent price history."""

    product_ids: list[str]
    category: npt.NDArray[np.int64]
    price_cents: npt.NDArray[np.int64]
    stock: npt.NDArray[np.int64]
    status: npt.NDArray[np.int64]
    names: list[str]
    """Display names (raw text)."""
    name_json: list[str]
    """The same names as JSON string literals, escaped once."""
    descriptions: list[str]
    """Descriptions as JSON string literals."""
    sentences: list[str]
    """Raw sentences new descriptions are written from."""
    search_terms: list[list[str]]
    """Per category, search queries shoppers type."""
    _price_history: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    """product -> [(epoch ms, price in force from then)], oldest first; older values fold into base."""
    _base_price: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _status_history: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    _base_status: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Status as of the last ``forget_before`` moment: what shoppers can buy in the current window."""
    _base_index: _PickIndex | None = None
    """The pick index of the base state (rebuilt after a fold or a change)."""
    _indexes_at: dict[int, _PickIndex] = field(default_factory=dict)
    """Pick indexes of later moments of the current window (base state plus the changes before them)."""

    def __post_init__(self) -> None:
        self._base_price = self.price_cents.copy()
        self._base_status = self.status.copy()

    @property
    def size(self) -> int:
        return len(self.product_ids)

    # ------------------------------------------------------------------ selling

    def _index(self, moment: int | None) -> _PickIndex:
        """The pick index as of ``moment`` (epoch ms; None: the base state, i.e. the last fold)."""
        if self._base_index is None:
            self._base_index = _PickIndex.build(self.category, self._base_status, self._base_price)
        if moment is None:
            return self._base_index
        cached = self._indexes_at.get(moment)
        if cached is not None:
            return cached
        status, price = self._state_at(moment)
        index = (
            self._base_index
            if status is None or price is None
            else _PickIndex.build(self.category, status, price)
        )
        if len(self._indexes_at) > 64:
            self._indexes_at.clear()
        self._indexes_at[moment] = index
        return index

    def _state_at(self, moment: int) -> tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.int64] | None]:
        """(status, price) of every product as of ``moment``: the base state with the changes before it;
        (None, None) when no change precedes it (the base state itself)."""
        changed = False
        states = []
        for history, base in (
            (self._status_history, self._base_status),
            (self._price_history, self._base_price),
        ):
            state = base
            for product, changes in history.items():
                pos = bisect.bisect_left(changes, (moment, -1))
                if pos:
                    if state is base:
                        state = base.copy()
                    state[product] = changes[pos - 1][1]
                    changed = True
            states.append(state)
        return (states[0], states[1]) if changed else (None, None)

    def pick(
        self,
        categories: npt.NDArray[np.int64],
        target_cents: npt.NDArray[np.float64],
        moments: npt.NDArray[np.int64] | None = None,
    ) -> npt.NDArray[np.int64]:
        """For each (category, target price), the sellable product of that category priced closest.

        Sellable means active, at its price, as of the last ``forget_before`` moment, or with
        ``moments`` (epoch ms, one per pick, a few distinct values: the starts of the 15-minute
        slices of a window) as of each pick's moment, so that a long window's shoppers see the
        catalog of their own slice.
        """
        if moments is None:
            return self._index(None).pick(categories, target_cents)
        distinct = np.unique(moments)
        if distinct.size == 1:
            return self._index(int(distinct[0])).pick(categories, target_cents)
        out = np.empty(categories.size, dtype=np.int64)
        for moment in distinct.tolist():
            at = np.flatnonzero(moments == moment)
            out[at] = self._index(moment).pick(categories[at], target_cents[at])
        return out

    def price_at(self, product: int, epoch_ms: int) -> int:
        """Price (cents) in force at a moment, following the catalog's own price changes."""
        history = self._price_history.get(product)
        if not history:
            return int(self._base_price[product])
        pos = bisect.bisect_right(history, (epoch_ms, _MAX_CENTS))
        return int(self._base_price[product]) if pos == 0 else history[pos - 1][1]

    def forget_before(self, epoch_ms: int) -> None:
        """Fold changes older than ``epoch_ms`` into the base state (no order can predate them); the
        base status is then the catalog shoppers browse from ``epoch_ms`` on."""
        for history, base in (
            (self._price_history, self._base_price),
            (self._status_history, self._base_status),
        ):
            for product in list(history):
                changes = history[product]
                pos = bisect.bisect_left(changes, (epoch_ms, -1))
                if pos:
                    base[product] = changes[pos - 1][1]
                    del changes[:pos]
                    self._base_index = None
                if not changes:
                    del history[product]
        self._indexes_at.clear()

    # ------------------------------------------------------------------ updating

    def set_price(self, product: int, cents: int, epoch_ms: int) -> None:
        self.price_cents[product] = cents
        self._price_history.setdefault(product, []).append((epoch_ms, cents))
        self._indexes_at.clear()

    def set_description(self, product: int, sentence: int) -> None:
        self.descriptions[product] = json_str(f"{self.names[product]}. {self.sentences[sentence]}")

    def set_status(self, product: int, status: int, epoch_ms: int) -> None:
        self.status[product] = status
        self._status_history.setdefault(product, []).append((epoch_ms, status))
        self._indexes_at.clear()


@dataclass(frozen=True)
class _PickIndex:
    """Per category, the sellable products sorted by price, all categories in one sorted array (each
    category's prices shifted into its own key range), so one searchsorted serves a batch of picks."""

    members: npt.NDArray[np.int64]
    prices: npt.NDArray[np.float64]
    keys: npt.NDArray[np.float64]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]

    @classmethod
    def build(
        cls, category: npt.NDArray[np.int64], status: npt.NDArray[np.int64], price: npt.NDArray[np.int64]
    ) -> _PickIndex:
        """Active products; a category with none sells all of its products (every category keeps one),
        one with no products at all the whole catalog."""
        n_cat = len(CATEGORIES)
        active = status == ACTIVE
        has_active = np.bincount(category[active], minlength=n_cat) > 0
        members = np.flatnonzero(active | ~has_active[category])
        owner = category[members]
        empty = np.flatnonzero(np.bincount(category, minlength=n_cat) == 0)
        if empty.size:
            everything = np.arange(category.size, dtype=np.int64)
            members = np.concatenate([members, np.tile(everything, empty.size)])
            owner = np.concatenate([owner, np.repeat(empty, category.size)])
        order = _order_by_owner_and_price(owner, price[members])
        members, owner = members[order], owner[order]
        sizes = np.bincount(owner, minlength=n_cat).astype(np.int64)
        prices = price[members].astype(np.float64)
        ends = np.cumsum(sizes)
        return cls(members, prices, prices + _CATEGORY_KEY_SPAN * owner, ends - sizes, ends)

    def pick(
        self, categories: npt.NDArray[np.int64], target_cents: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        start, end = self.starts[categories], self.ends[categories]
        pos = searchsorted_many(self.keys, target_cents + _CATEGORY_KEY_SPAN * categories)
        hi = np.clip(pos, start, end - 1)
        lo = np.clip(pos - 1, start, end - 1)
        closer_lo = np.abs(self.prices[lo] - target_cents) <= np.abs(self.prices[hi] - target_cents)
        return np.asarray(self.members[np.where(closer_lo, lo, hi)], dtype=np.int64)


def _order_by_owner_and_price(
    owner: npt.NDArray[np.int64], price: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The order of the entries by (owner category, price, position): one sort of unique int64 keys when
    the three fit in 63 bits (any real catalog: ~5x faster than a lexsort), else a lexsort (stable)."""
    if owner.size == 0:
        return np.zeros(0, dtype=np.int64)
    position_bits = int(owner.size - 1).bit_length()
    price_bits = int(price.max()).bit_length()
    owner_bits = int(owner.max()).bit_length()
    if int(price.min()) < 0 or position_bits + price_bits + owner_bits > 62:
        return np.asarray(np.lexsort((price, owner)), dtype=np.int64)
    keys = ((owner << price_bits) + price) << position_bits
    keys += np.arange(owner.size, dtype=np.int64)
    keys.sort()
    return np.asarray(keys & ((1 << position_bits) - 1), dtype=np.int64)


def product_id(index: int) -> str:
    return f"prod_{index:06d}"


def build_catalog(rng: np.random.Generator, faker: Faker, n_products: int) -> Catalog:
    """A seeded catalog: categories by the ordinary shopping mix, prices log-uniform in the range.

    Faker runs only to fill small pools (brands, sentences, words); products combine pool entries.
    """
    from .calendar import BASE_SHARE

    brands = sorted({faker.last_name() for _ in range(120)})
    sentences = [faker.sentence(nb_words=12) for _ in range(200)]
    words = sorted({faker.word() for _ in range(300)})

    n_cat = len(CATEGORIES)
    category = rng.choice(n_cat, size=n_products, p=BASE_SHARE)
    # Every category is represented as long as there are enough products.
    category[: min(n_cat, n_products)] = np.arange(min(n_cat, n_products))
    lo, hi = PRICE_RANGES_CENTS[category, 0], PRICE_RANGES_CENTS[category, 1]
    log_price = rng.uniform(np.log(lo), np.log(hi))
    price = np.clip((np.exp(log_price) // 100) * 100 + 99, lo, hi).astype(np.int64)
    stock = rng.integers(5, 500, size=n_products)

    brand_idx = rng.integers(0, len(brands), size=n_products)
    adjective_idx = rng.integers(0, len(_ADJECTIVES), size=n_products)
    noun_draw = rng.random(n_products)
    sentence_idx = rng.integers(0, len(sentences), size=n_products)
    names: list[str] = []
    descriptions: list[str] = []
    for i in range(n_products):
        nouns = _NOUNS[CATEGORIES[int(category[i])]]
        name = (
            f"{brands[brand_idx[i]]} {_ADJECTIVES[adjective_idx[i]]} {nouns[int(noun_draw[i] * len(nouns))]}"
        )
        names.append(name)
        descriptions.append(json_str(f"{name}. {sentences[sentence_idx[i]]}"))

    search_terms = []
    for cat_name in CATEGORIES:
        nouns = _NOUNS[cat_name]
        terms = []
        for _ in range(SEARCH_TERMS_PER_CATEGORY):
            noun = nouns[int(rng.integers(0, len(nouns)))].lower()
            style = rng.random()
            if style < 0.4:
                terms.append(noun)
            elif style < 0.7:
                terms.append(f"{_ADJECTIVES[int(rng.integers(0, len(_ADJECTIVES)))].lower()} {noun}")
            else:
                terms.append(f"{words[int(rng.integers(0, len(words)))]} {noun}")
        search_terms.append(terms)

    return Catalog(
        product_ids=[product_id(i) for i in range(n_products)],
        category=category.astype(np.int64),
        price_cents=price,
        stock=stock.astype(np.int64),
        status=np.full(n_products, ACTIVE, dtype=np.int64),
        names=names,
        name_json=[json_str(name) for name in names],
        descriptions=descriptions,
        sentences=sentences,
        search_terms=search_terms,
    )
