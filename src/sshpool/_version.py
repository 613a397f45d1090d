"""The package version, in a leaf so that every face can report it without importing the package root."""

__version__ = "0.1.0"
