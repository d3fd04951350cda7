"""Sub-commands of ``ecap``: each module exposes ``add_parser(subparsers)`` and sets ``handler``."""
