"""After a failed build: the step's environment, the debug layer, the session, --exec/--retry/
--apply, write-back. Nothing is imported here: bisect uses stepenv, signals and workspace
without loading the session's prompt-toolkit.
"""
