"""cxml: what customers say, turned into who is about to leave, why, and what it is worth."""

__version__ = "0.1.0"
