"""PURE: the parser's state for one build (its vertices, error blocks, excerpt, final line)
and how it is frozen into a BuildKitLog, the failure picked out of it.

Never does I/O, never prints, never reads the environment or the clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from dbugbuild.logs.buildkit.lines import (
    BUILDKIT_WORDING,
    MANIFEST,
    MANIFEST_LIST,
    NAMING,
    PARSE_ERROR_LINE,
    WRITING_IMAGE,
    exit_and_command,
)
from dbugbuild.logs.buildkit.model import (
    BuildKitLog,
    BuildKitLogError,
    Failure,
    Step,
    TtyProgressError,
    Vertex,
    VertexState,
    step_from_name,
)
from dbugbuild.logs.model import ExcerptLine


@dataclass
class VertexBuilder:
    """A vertex as the log has told it so far."""

    number: int
    name: str
    tail: deque[str]
    state: VertexState = "running"
    error: str | None = None
    lines: int = 0
    clipped: bool = False

    def freeze(self) -> Step | Vertex:
        step = step_from_name(self.number, self.name, self.state, self.error)
        if step is not None:
            return Step(
                vertex=step.vertex,
                name=step.name,
                stage=step.stage,
                platform=step.platform,
                index=step.index,
                total=step.total,
                instruction=step.instruction,
                text=step.text,
                onbuild=step.onbuild,
                state=self.state,
                error=self.error,
                output_tail=tuple(self.tail),
                output_lines=self.lines,
                clipped=self.clipped,
            )
        return Vertex(
            vertex=self.number,
            name=self.name,
            state=self.state,
            error=self.error,
            output_tail=tuple(self.tail),
            output_lines=self.lines,
        )


@dataclass
class Block:
    """An error block: `------`, ` > name:`, its last lines, `------`."""

    name: str
    lines: deque[str]


@dataclass
class Build:
    """One build of the log, as read so far."""

    vertices: dict[int, VertexBuilder] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    excerpt: list[ExcerptLine] = field(default_factory=list)
    excerpt_file: str | None = None
    excerpt_line: int | None = None
    final: str | None = None
    image: str | None = None
    manifest_list: str | None = None
    manifest: str | None = None
    names: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    builder: str | None = None
    driver: str | None = None

    def has_evidence(self) -> bool:
        """Vertices, or BuildKit's own final error: an excerpt or error block alone is no build."""
        return bool(self.vertices) or (
            self.final is not None and BUILDKIT_WORDING.search(self.final) is not None
        )

    def ended(self) -> bool:
        return self.final is not None or self.image is not None or bool(self.names)

    def status(self, rest: str) -> None:
        """A status line of a vertex: the image written, a name, a manifest exported."""
        if rest[:1] not in "wne" or not rest:  # `transferring ...`, `sha256:...`: most
            return
        writing = WRITING_IMAGE.match(rest)
        if writing:
            self.image = writing.group(1)
            return
        naming = NAMING.match(rest)
        if naming:
            if naming.group(1) not in self.names:
                self.names.append(naming.group(1))
            return
        listed = MANIFEST_LIST.match(rest)
        if listed:
            self.manifest_list = listed.group(1)
            return
        manifest = MANIFEST.match(rest)
        if manifest:
            self.manifest = manifest.group(1)

    def copied(self) -> Build:
        """A copy that reading on into this build leaves as it is."""
        return replace(
            self,
            vertices={
                number: replace(vertex, tail=deque(vertex.tail, maxlen=vertex.tail.maxlen))
                for number, vertex in self.vertices.items()
            },
            blocks=[
                Block(block.name, deque(block.lines, block.lines.maxlen)) for block in self.blocks
            ],
            excerpt=list(self.excerpt),
            names=list(self.names),
            warnings=list(self.warnings),
        )

    def fresh(self) -> bool:
        """Nothing read yet but the builder, as just after a `#0 building with` line."""
        return (
            not (self.vertices or self.blocks or self.excerpt or self.names or self.warnings)
            and (self.excerpt_file, self.excerpt_line, self.final, self.image) == (None,) * 4
            and (self.manifest_list is None and self.manifest is None)
        )


def no_build_error(
    build: Build, tty_lines: int, seen_text: bool, first_line: str | None
) -> BuildKitLogError:
    """The error for a log that holds no build: tty progress, nothing, or something else."""
    if tty_lines:
        return TtyProgressError(
            "this is BuildKit's tty progress (the screen it redraws on a terminal), which "
            "cannot be read reliably: save the build with --progress=plain (or "
            "BUILDKIT_PROGRESS=plain) and use that output"
        )
    if not seen_text:
        return BuildKitLogError(
            "the build output is empty; expected BuildKit's plain progress, as "
            "`docker buildx build --progress=plain` prints it ('#1 [internal] load ...')"
        )
    if build.excerpt or build.blocks or first_line is None:
        found = "it holds only a Dockerfile excerpt or an error block"
    else:
        found = f"it starts with {first_line[:70]!r}"
    return BuildKitLogError(
        f"no BuildKit build output found ({found}); expected the output of "
        "`docker buildx build --progress=plain`, lines like '#5 [2/3] RUN ...'"
    )


def result(build: Build, builds: int) -> BuildKitLog:
    """The frozen result of one build; `builds` is how many builds the log held up to it."""
    frozen = [vertex.freeze() for vertex in build.vertices.values()]
    steps = tuple(item for item in frozen if isinstance(item, Step))
    others = tuple(item for item in frozen if isinstance(item, Vertex))
    image = build.image or build.manifest_list or build.manifest
    return BuildKitLog(
        steps=steps,
        vertices=others,
        failure=_failure(build),
        image=image,
        names=tuple(build.names),
        warnings=tuple(build.warnings),
        builder=build.builder,
        driver=build.driver,
        builds=builds,
    )


def _failure(build: Build) -> Failure | None:
    failed = [v for v in build.vertices.values() if v.state == "error"]
    if not failed and build.final is None and not build.blocks:
        return None
    vertex = _pick_failed(failed, build)
    block = _pick_block(build.blocks, vertex)
    vertex_error = vertex.error if vertex else None
    exit_code, command = exit_and_command(vertex_error)
    if exit_code is None and command is None and build.final is not None:
        exit_code, command = exit_and_command(build.final)
    marked = [line.number for line in build.excerpt if line.marked]
    line = build.excerpt_line
    if line is None:
        for text in (build.final, vertex_error):
            parse_error = PARSE_ERROR_LINE.search(text or "")
            if parse_error:
                line = int(parse_error.group(1))
                break
    name = vertex.name if vertex else (block.name if block else None)
    return Failure(
        message=build.final,
        vertex=vertex.number if vertex else None,
        vertex_name=name,
        vertex_error=vertex_error,
        exit_code=exit_code,
        command=command,
        dockerfile=build.excerpt_file,
        line=line,
        span=(min(marked), max(marked)) if marked else None,
        excerpt=tuple(build.excerpt),
        block=tuple(block.lines) if block else (),
    )


def _pick_failed(failed: list[VertexBuilder], build: Build) -> VertexBuilder | None:
    """The vertex whose error the build ended with (several may fail in parallel)."""
    if not failed:
        return None
    final = build.final or ""
    for vertex in reversed(failed):
        if vertex.error and vertex.error in final:
            return vertex
    names = {block.name for block in build.blocks}
    for vertex in reversed(failed):
        if vertex.name in names:
            return vertex
    return failed[-1]


def _pick_block(blocks: list[Block], vertex: VertexBuilder | None) -> Block | None:
    if vertex is not None:
        for block in blocks:
            if block.name == vertex.name:
                return block
    return blocks[-1] if blocks else None
