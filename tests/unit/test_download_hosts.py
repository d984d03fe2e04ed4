"""Which hosts a download link may point at, and over what."""

import pytest
from bwp import errors
from bwp.landing.download import check_download_host


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


@pytest.mark.parametrize(
    "url",
    [
        "http://bucket.s3.us-east-1.amazonaws.com/r.csv?X-Amz-Signature=x",
        "http://reports.buywithprime.amazon.com/r.csv",
        "HTTP://downloads.example.org/r.csv",
    ],
)
def test_a_plain_http_link_to_an_allowed_host_is_refused(url):
    # given an allowlist that names the host, when the link is plain http, then it is refused for being http
    with pytest.raises(errors.DownloadHostNotAllowed, match="plain http"):
        check_download_host(url, ("*.amazonaws.com", "*.buywithprime.amazon.com", "downloads.example.org"))


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/r.csv", True),
        ("http://127.0.0.2/r.csv", True),
        ("http://localhost/r.csv", True),
        ("http://[::1]:8080/r.csv", True),
        ("http://downloads.example.org/r.csv", False),
        ("http://10.0.0.8/r.csv", False),
        ("http://127.0.0.1.example.org/r.csv", False),
    ],
)
def test_plain_http_is_allowed_only_to_a_loopback_host_and_only_when_configured(url, allowed):
    hosts = ("127.0.0.1", "127.0.0.2", "localhost", "::1", "downloads.example.org", "10.0.0.8", "*.example.org")
    # given the local twin's configuration, then only loopback hosts may be reached over http
    if allowed:
        check_download_host(url, hosts, plain_http_on_loopback=True)
    else:
        with pytest.raises(errors.DownloadHostNotAllowed, match="plain http"):
            check_download_host(url, hosts, plain_http_on_loopback=True)
    # and without it (as in AWS), none may
    with pytest.raises(errors.DownloadHostNotAllowed, match="plain http"):
        check_download_host(url, hosts)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example\uff0f.amazonaws.com/r.csv",  # a fullwidth solidus in the host
        "https://bucket.s3.amazonaws.com\uff0fevil.example/r.csv",
        "https://bucket.s3.amazonaws.com:99999/r.csv",  # a port out of range
        "https://bucket.s3.amazonaws.com:443x/r.csv",  # a port that is not a number
        "https://[::1/r.csv",  # an unclosed IPv6 literal
    ],
)
def test_a_url_that_cannot_be_parsed_is_refused_as_a_host_not_allowed(url):
    with pytest.raises(errors.DownloadHostNotAllowed, match="cannot be parsed"):
        check_download_host(url, ("*.amazonaws.com", "::1"), plain_http_on_loopback=True)
