"""Shared code of the bwp-report-lake Lambdas: API client, registry, windows, landing."""
