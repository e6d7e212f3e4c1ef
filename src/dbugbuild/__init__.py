"""dbugbuild: make a failed classic `docker build` debuggable in one command."""

__version__ = "0.1.0"
