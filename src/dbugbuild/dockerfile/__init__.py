"""PURE: the Dockerfile as the builder reads it: the model, the parser, classic step numbering.

`rewrite` (a RUN's new text) and `dockerignore` (which pattern keeps a path out of the
build context) are the other pure readings of a build's inputs. Nothing here does I/O,
prints, or reads the environment or the clock: text comes in, data goes out.
"""

from dbugbuild.dockerfile.heredoc import buildkit_script
from dbugbuild.dockerfile.lines import line_count, lines
from dbugbuild.dockerfile.model import (
    KEYWORDS,
    Dockerfile,
    DockerfileSyntaxError,
    Heredoc,
    Instruction,
    Stage,
    StepRef,
    parse_exec_form,
)
from dbugbuild.dockerfile.parse import parse
from dbugbuild.dockerfile.steps import (
    classic_steps,
    command_as_written,
    label_options,
    typed_run,
    typed_script,
)

__all__ = [
    "KEYWORDS",
    "Dockerfile",
    "DockerfileSyntaxError",
    "Heredoc",
    "Instruction",
    "Stage",
    "StepRef",
    "buildkit_script",
    "classic_steps",
    "command_as_written",
    "label_options",
    "line_count",
    "lines",
    "parse",
    "parse_exec_form",
    "typed_run",
    "typed_script",
]
