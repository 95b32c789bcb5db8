"""publisher: dated articles in, feeds, pages and a newsletter digest out."""

__version__ = "0.1.0"
