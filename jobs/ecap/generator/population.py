"""A stable customer population with heavy-tailed shopping activity.

Every customer has a home city, one device, a price level (the typical price of what they buy) and
an activity propensity drawn from a lognormal. Visitor tiers come from the propensity rank: the most
active 1 % are "power" visitors, the next 9 % "loyal", the next 30 % "returning", the rest "new".
Sessions pick their visitor segment by the DOMAIN weights and then a customer of that tier in
proportion to propensity, so a few customers order often while most order once or twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ecap import schemas

from .encode import uuids
from .geography import CITIES, location_json
from .search import searchsorted_many

SEGMENTS: Final[tuple[str, ...]] = schemas.VISITOR_SEGMENTS
SEGMENT_WEIGHTS: Final = np.asarray([0.35, 0.40, 0.20, 0.05], dtype=np.float64)
# Share of customers in each tier, top of the propensity ranking last (new, returning, loyal, power).
TIER_SHARES: Final = np.asarray([0.695, 0.25, 0.05, 0.005], dtype=np.float64)
PROPENSITY_SIGMA: Final = 1.3
PRICE_LEVEL_MEDIAN_CENTS: Final = 4500.0
PRICE_LEVEL_SIGMA: Final = 0.8

DEVICE_TYPE_WEIGHTS: Final = np.asarray([0.45, 0.45, 0.10], dtype=np.float64)  # desktop, mobile, tablet
OPERATING_SYSTEMS: Final[dict[str, tuple[str, ...]]] = {
    "desktop": ("Windows", "macOS", "Linux", "ChromeOS"),
    "mobile": ("iOS", "Android"),
    "tablet": ("iPadOS", "Android"),
}
# Channels a device type shops through, with weights.
CHANNELS_BY_DEVICE: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "desktop": (("web", 0.85), ("marketplace", 0.15)),
    "mobile": (("mobile_app", 0.55), ("mobile_web", 0.40), ("marketplace", 0.05)),
    "tablet": (("web", 0.40), ("mobile_app", 0.40), ("mobile_web", 0.15), ("marketplace", 0.05)),
}


@dataclass
class Population:
    customer_ids: list[str]
    city: npt.NDArray[np.int64]
    propensity: npt.NDArray[np.float64]
    tier: npt.NDArray[np.int64]
    """Index into SEGMENTS."""
    price_level_cents: npt.NDArray[np.float64]
    compatible: npt.NDArray[np.bool_]
    """(n, n_categories): categories whose price range holds the customer's price level."""
    device_type: npt.NDArray[np.int64]
    device_json: list[str]
    """Each customer's wire ``device`` object."""
    location_json: list[str]
    """Wire ``location`` object of each city (indexed by city)."""
    # Tier x city lookup for drawing customers: customers sorted by (city, tier), cumulative propensity.
    order: npt.NDArray[np.int64]
    cum_propensity: npt.NDArray[np.float64]
    group_bounds: npt.NDArray[np.int64]
    """(n_cities, n_tiers + 1, 2) start/end positions in ``order``; tier slot n_tiers = whole city."""

    @property
    def size(self) -> int:
        return len(self.customer_ids)

    def city_shares(self) -> npt.NDArray[np.float64]:
        counts = np.bincount(self.city, minlength=len(CITIES)).astype(np.float64)
        return np.asarray(counts / counts.sum(), dtype=np.float64)

    def draw(
        self, rng: np.random.Generator, cities: npt.NDArray[np.int64], segments: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """A customer per (city, visitor segment), in proportion to propensity within the tier.

        A city without customers of that tier falls back to all of the city's customers.
        """
        bounds = self.group_bounds[cities, segments]
        empty = bounds[:, 0] == bounds[:, 1]
        if empty.any():
            bounds[empty] = self.group_bounds[cities[empty], len(SEGMENTS)]
        lo = self.cum_propensity[bounds[:, 0]]
        hi = self.cum_propensity[bounds[:, 1]]
        u = lo + rng.random(cities.size) * (hi - lo)
        pos = searchsorted_many(self.cum_propensity, u, side="right") - 1
        pos = np.clip(pos, bounds[:, 0], bounds[:, 1] - 1)
        return self.order[pos]


def customer_id(index: int) -> str:
    return f"cust_{index:06d}"


def device_json(device_id: str, device_type: str, os_name: str) -> str:
    return f'{{"device_id":"{device_id}","device_type":"{device_type}","os":"{os_name}"}}'


def random_device(rng: np.random.Generator) -> tuple[str, int, str]:
    """(device_id, device type index, wire JSON) of a device nobody has used before."""
    type_idx = int(rng.choice(len(schemas.DEVICE_TYPES), p=DEVICE_TYPE_WEIGHTS))
    type_name = schemas.DEVICE_TYPES[type_idx]
    systems = OPERATING_SYSTEMS[type_name]
    device_id = "dev-" + uuids(rng, 1)[0]
    return device_id, type_idx, device_json(device_id, type_name, systems[int(rng.integers(0, len(systems)))])


def build_population(rng: np.random.Generator, n_customers: int) -> Population:
    from .catalog import PRICE_RANGES_CENTS

    weights = np.asarray([c.weight for c in CITIES], dtype=np.float64)
    city = rng.choice(len(CITIES), size=n_customers, p=weights / weights.sum()).astype(np.int64)
    propensity = rng.lognormal(0.0, PROPENSITY_SIGMA, size=n_customers)

    rank = np.empty(n_customers, dtype=np.int64)
    rank[np.argsort(propensity, kind="stable")] = np.arange(n_customers)
    quantile = (rank + 0.5) / n_customers
    tier = np.searchsorted(np.cumsum(TIER_SHARES)[:-1], quantile, side="right").astype(np.int64)

    price_level = np.clip(
        rng.lognormal(np.log(PRICE_LEVEL_MEDIAN_CENTS), PRICE_LEVEL_SIGMA, size=n_customers), 600.0, 250_000.0
    )
    compatible = (PRICE_RANGES_CENTS[:, 0][None, :] <= price_level[:, None]) & (
        price_level[:, None] <= PRICE_RANGES_CENTS[:, 1][None, :]
    )

    device_type = rng.choice(len(schemas.DEVICE_TYPES), size=n_customers, p=DEVICE_TYPE_WEIGHTS).astype(
        np.int64
    )
    os_draw = rng.random(n_customers)
    device_ids = uuids(rng, n_customers)
    # The part of each customer's device object after its id, per (device type, operating system).
    suffixes = [
        [
            device_json("", type_name, os_name)[len('{"device_id":""') :]
            for os_name in OPERATING_SYSTEMS[type_name]
        ]
        for type_name in schemas.DEVICE_TYPES
    ]
    n_systems = np.asarray([len(OPERATING_SYSTEMS[t]) for t in schemas.DEVICE_TYPES], dtype=np.int64)
    os_index = (os_draw * n_systems[device_type]).astype(np.int64).tolist()
    devices = [
        f'{{"device_id":"dev-{device_id}"{suffixes[t][o]}'
        for device_id, t, o in zip(device_ids, device_type.tolist(), os_index, strict=True)
    ]

    n_tiers = len(SEGMENTS)
    order = np.lexsort((tier, city)).astype(np.int64)
    cum = np.concatenate([[0.0], np.cumsum(propensity[order])])
    sorted_city, sorted_tier = city[order], tier[order]
    bounds = np.zeros((len(CITIES), n_tiers + 1, 2), dtype=np.int64)
    for c in range(len(CITIES)):
        c_lo = int(np.searchsorted(sorted_city, c, side="left"))
        c_hi = int(np.searchsorted(sorted_city, c, side="right"))
        bounds[c, n_tiers] = (c_lo, c_hi)
        tiers_here = sorted_tier[c_lo:c_hi]
        for t in range(n_tiers):
            bounds[c, t] = (
                c_lo + int(np.searchsorted(tiers_here, t, side="left")),
                c_lo + int(np.searchsorted(tiers_here, t, side="right")),
            )
    return Population(
        customer_ids=[f"cust_{i:06d}" for i in range(n_customers)],  # customer_id(i), inlined
        city=city,
        propensity=propensity,
        tier=tier,
        price_level_cents=price_level,
        compatible=compatible,
        device_type=device_type,
        device_json=devices,
        location_json=[location_json(c) for c in CITIES],
        order=order,
        cum_propensity=cum,
        group_bounds=bounds,
    )


def channel_table() -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    """(channel names, (n_device_types, n_channels) cumulative weights) for vectorised draws."""
    channels = schemas.CHANNELS
    table = np.zeros((len(schemas.DEVICE_TYPES), len(channels)), dtype=np.float64)
    for d, type_name in enumerate(schemas.DEVICE_TYPES):
        for name, weight in CHANNELS_BY_DEVICE[type_name]:
            table[d, channels.index(name)] = weight
    table /= table.sum(axis=1, keepdims=True)
    return channels, np.cumsum(table, axis=1)
