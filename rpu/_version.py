"""The version of rpu."""
__version__ = "0.1.0"
