"""The deployable CDK app: storage and catalog, workflow, schedule and monitoring in one stack.

Import the CDK-heavy modules directly (``infra.stack`` and the constructs it composes); this package's
``__init__`` and ``infra.outputs`` stay light so the CLI can read output names without CDK.
"""
