"""The run modes' tests: warm shells against exec, answer for answer."""
