"""The landing path: a report's download streamed into its raw object (``raw``: ``download``,
``inspection``, ``multipart``), typed by the registry into Arrow batches (``typed``) and written
from them into its curated Parquet file (``curated``; the two are the only users of pyarrow),
and published into the tables or kept aside (``publication``)."""
