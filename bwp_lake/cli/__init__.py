"""The ``bwp-lake`` command line."""
