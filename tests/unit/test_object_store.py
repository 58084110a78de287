"""The listing page reader (``object_store._lean_listing``): what it keeps of a page, and the answers it turns
into a retried 500 as botocore's own check of 200 answers would (it takes that check's place for listings)."""

from __future__ import annotations

from typing import Any

from mobilabel import object_store

PAGE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>lib/</Prefix>'
    b"<IsTruncated>true</IsTruncated><NextContinuationToken>next</NextContinuationToken>"
    b"<Contents><Key>lib/a%20b.jpg</Key><LastModified>2026-01-01T00:00:00Z</LastModified>"
    b"<ETag>&quot;abc&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>"
    b"<Contents><Key>lib/c.jpg</Key><ETag>&#34;def&#34;</ETag><Size>0</Size></Contents>"
    b"</ListBucketResult>"
)


def read(body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    answer: dict[str, Any] = {"status_code": 200, "body": body, "headers": {}}
    customized: dict[str, Any] = {}
    object_store._lean_listing(response_dict=answer, customized_response_dict=customized)
    return answer, customized


def test_a_page_keeps_each_objects_key_etag_and_size_and_leaves_the_rest_to_botocore() -> None:
    answer, customized = read(PAGE)
    assert customized["Contents"] == [
        {"Key": "lib/a%20b.jpg", "ETag": '"abc"', "Size": 12},  # still URL-encoded: botocore decodes it after
        {"Key": "lib/c.jpg", "ETag": '"def"', "Size": 0},
    ]
    assert answer["status_code"] == 200
    assert b"<Contents>" not in answer["body"] and b"<NextContinuationToken>next" in answer["body"]


def test_a_page_cut_short_or_an_error_in_a_200_answer_is_retried_as_a_500() -> None:
    assert read(PAGE[: len(PAGE) // 2])[0]["status_code"] == 500
    error = b"<Error><Code>InternalError</Code><Message>try again</Message></Error>"
    assert read(error)[0]["status_code"] == 500
