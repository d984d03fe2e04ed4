"""The curated layer as Apache Iceberg tables: one table per report type, partitioned by store and day.

``catalog`` opens the tables' catalog (Glue in AWS, SQLite in the local lake directory) with every
file going through one boto3 S3 client (``file_io``); ``tables`` gives each report type its table,
typed from the registry; ``commit`` replaces days of a table in one snapshot; ``maintenance``
expires old snapshots; ``reading`` reads a table as it is or as it was.
"""
