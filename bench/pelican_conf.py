"""Pelican settings for bench/build_vs_pelican.py.

Content path, output path and cache path come from the command line; everything here mirrors
what `publisher build` produces as closely as Pelican allows: full-content Atom and RSS feeds for
the whole site and for each category, with every article in them, and 10 articles per index page.
"""

AUTHOR = "Bench"
SITENAME = "Bench"
SITEURL = "http://127.0.0.1:8000"
TIMEZONE = "Europe/Paris"
DEFAULT_LANG = "fr"
DEFAULT_PAGINATION = 10
RELATIVE_URLS = False

# Feeds: site-wide and per category, Atom and RSS, full content, no item cap
# (Pelican's default FEED_MAX_ITEMS is 100; None means every article).
FEED_DOMAIN = SITEURL
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = "feeds/all.rss.xml"
CATEGORY_FEED_ATOM = "feeds/{slug}.atom.xml"
CATEGORY_FEED_RSS = "feeds/{slug}.rss.xml"
FEED_MAX_ITEMS = None
RSS_FEED_SUMMARY_ONLY = False
# Off: publisher has no per-author or per-translation feeds (and Pelican's default author feed
# path is the same pattern as the category one).
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TRANSLATION_FEED_ATOM = None

# Content cache, so the "one article changed" rebuild can be compared with ours.
LOAD_CONTENT_CACHE = True
CACHE_CONTENT = True
