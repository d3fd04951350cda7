"""Registers every ECAP handler into kopf's default registry on import, with settings from the environment.

For ``kopf run --standalone -A -m ecap_operator.kopf_entry`` and ``kopf.testing.KopfRunner`` with the same
arguments; ``ecap operator run`` does not need it (it builds its own registry). This module cannot know
kopf's ``--namespace`` / ``-A``: the child watch follows children in every namespace (one list + watch per
kind; where RBAC refuses that it warns and the periodic resync refreshes the owners), and Strimzi topics
only when they live next to their KafkaTopics (``ECAP_OPERATOR_STRIMZI_NAMESPACE`` unset).
"""

import kopf

from .handlers import register
from .settings import load_settings

register(kopf.get_default_registry(), load_settings())
