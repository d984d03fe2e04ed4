"""The local twin: moto Step Functions with in-process Lambdas, and DuckDB in place of Athena."""
