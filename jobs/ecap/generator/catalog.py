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
    _index_members: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _index_prices: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    _index_keys: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    _index_starts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _index_ends: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _index_dirty: bool = True

    def __post_init__(self) -> None:
        self._base_price = self.price_cents.copy()
        self._base_status = self.status.copy()

    @property
    def size(self) -> int:
        return len(self.product_ids)

    # ------------------------------------------------------------------ selling

    def _rebuild_index(self) -> None:
        """Per category: products active at the window start, sorted by price (every category keeps one)."""
        index = []
        for cat in range(len(CATEGORIES)):
            members = np.flatnonzero((self.category == cat) & (self._base_status == ACTIVE))
            if members.size == 0:
                members = np.flatnonzero(self.category == cat)
            if members.size == 0:
                members = np.arange(self.size)
            order = np.argsort(self._base_price[members], kind="stable")
            index.append((members[order], self._base_price[members][order]))
        # All categories in one sorted array, each category's prices shifted into its own key range,
        # so that one searchsorted serves a whole batch of (category, target) pairs.
        self._index_members = np.concatenate([members for members, _ in index])
        self._index_prices = np.concatenate([prices for _, prices in index]).astype(np.float64)
        sizes = np.asarray([members.size for members, _ in index], dtype=np.int64)
        self._index_ends = np.cumsum(sizes)
        self._index_starts = self._index_ends - sizes
        self._index_keys = self._index_prices + _CATEGORY_KEY_SPAN * np.repeat(np.arange(len(index)), sizes)
        self._index_dirty = False

    def pick(
        self, categories: npt.NDArray[np.int64], target_cents: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """For each (category, target price), the sellable product of that category priced closest."""
        if self._index_dirty:
            self._rebuild_index()
        start, end = self._index_starts[categories], self._index_ends[categories]
        pos = np.searchsorted(self._index_keys, target_cents + _CATEGORY_KEY_SPAN * categories)
        hi = np.clip(pos, start, end - 1)
        lo = np.clip(pos - 1, start, end - 1)
        prices = self._index_prices
        closer_lo = np.abs(prices[lo] - target_cents) <= np.abs(prices[hi] - target_cents)
        return np.asarray(self._index_members[np.where(closer_lo, lo, hi)], dtype=np.int64)

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
                    self._index_dirty = True
                if not changes:
                    del history[product]

    # ------------------------------------------------------------------ updating

    def set_price(self, product: int, cents: int, epoch_ms: int) -> None:
        self.price_cents[product] = cents
        self._price_history.setdefault(product, []).append((epoch_ms, cents))

    def set_description(self, product: int, sentence: int) -> None:
        self.descriptions[product] = json_str(f"{self.names[product]}. {self.sentences[sentence]}")

    def set_status(self, product: int, status: int, epoch_ms: int) -> None:
        self.status[product] = status
        self._status_history.setdefault(product, []).append((epoch_ms, status))


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
