"""The landing path: a report's download streamed into its raw object (``raw``: ``download``,
``inspection``, ``multipart``), typed into its curated Parquet file (``curated``, the only user
of pyarrow) and published into the tables or kept aside (``publication``)."""
