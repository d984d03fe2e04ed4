"""Which hosts a download link may point at."""

import pytest
from bwp import errors
from bwp.download import check_download_host


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://bucket.s3.us-east-1.amazonaws.com/r.csv?X-Amz-Signature=x", True),
        ("https://BUCKET.S3.AMAZONAWS.COM./r.csv", True),
        ("https://reports.buywithprime.amazon.com/r.csv", True),
        ("https://downloads.example.org:8443/r.csv", True),
        ("https://amazonaws.com/r.csv", False),
        ("https://evilamazonaws.com/r.csv", False),
        ("https://s3.amazonaws.com.evil.net/r.csv", False),
        ("https://s3.amazonaws.com@evil.net/r.csv", False),
        ("https://evil.net\\@s3.amazonaws.com/r.csv", False),
        ("ftp://downloads.example.org/r.csv", False),
        ("https://other.example.org/r.csv", False),
        ("/relative/r.csv", False),
    ],
)
def test_download_host_allowlist(url, allowed):
    hosts = ("*.amazonaws.com", "*.buywithprime.amazon.com", "downloads.example.org")
    if allowed:
        check_download_host(url, hosts)
    else:
        with pytest.raises(errors.DownloadHostNotAllowed):
            check_download_host(url, hosts)
