"""A link in content/ to a file outside it (var/secret.key, /etc/passwd) is never published."""

from __future__ import annotations

import logging

from publisher.content import scan


def test_a_link_outside_the_content_folder_is_skipped_with_a_warning(tmp_path, caplog):
    content = tmp_path / "content"
    (content / "img").mkdir(parents=True)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret.key").write_text("s3cret", encoding="utf-8")
    (content / "img" / "photo.jpg").write_bytes(b"jpg")
    (content / "img" / "key.txt").symlink_to(tmp_path / "var" / "secret.key")
    (content / "img" / "same.jpg").symlink_to(content / "img" / "photo.jpg")  # inside: fine
    with caplog.at_level(logging.WARNING, logger="publisher.content"):
        articles, assets = scan(content)
    names = [rel for rel, _ in articles + assets]
    assert names == ["img/photo.jpg", "img/same.jpg"]
    assert "img/key.txt links outside the content folder" in caplog.text
