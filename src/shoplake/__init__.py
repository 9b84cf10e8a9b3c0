"""shoplake: an e-commerce analytics warehouse as code."""

__version__ = "0.1.0"
