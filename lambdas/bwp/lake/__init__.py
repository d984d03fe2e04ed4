"""The lake's contract: what the stack, the CLI and the twin may read of the Lambda code.

The registry of report types and their columns (``schemas``), the manifest model (``manifest``)
and the contract's constants: key prefixes, service, namespace, metric names (``contract``).
Nothing here does I/O; ``bwp_lake.infra`` imports nothing else of ``bwp``.
"""
