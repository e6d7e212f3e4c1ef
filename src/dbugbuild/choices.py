"""PURE: the closed choices of the command line, as plain data (no imports).

arguments.py builds its parser from these without importing options.py (whose dataclasses
cost a start-up that `--help` need not pay); options.py re-exports them.
"""

BACKEND_CHOICES = ("auto", "classic", "buildkit", "podman")  # --backend; "auto" picks one
