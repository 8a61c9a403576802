"""The ``mapmanager`` command line (a stable contract: other tools depend on it).

Output rule: what a command produces (tables, JSON, descriptions, and ``validate``'s
report: one line per problem, or ``<map>: ok ...``) goes to **stdout**; diagnostics
(errors that stop a command, warnings, progress) go to **stderr**, one line each,
prefixed ``mapmanager: error:`` / ``mapmanager: warning:``. Never a traceback.

Exit status: 0 success (``validate``: the map is clean); 1 a map problem or a bad value
(a map that cannot be read, an unknown ROI type or statistic; ``validate``: the map has
problems); 2 a usage error (unknown option, missing argument); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from . import __version__
from .analysis import dynamics, dynamics_summary, map_values, statistics
from .errors import InvalidParameterError, MapFormatError, MapManagerError, MapNotFoundError
from .jsonable import json_value
from .model import load_map

__all__ = ["main"]

log = logging.getLogger(__name__)



def _json_default(o: object) -> Any:
    if isinstance(o, np.integer | np.floating | np.ndarray):
        return json_value(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


_clean = json_value


def _num(v: float) -> str:
    """A CSV cell: empty for NaN, shortest exact repr otherwise."""
    if math.isnan(v):
        return ""
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def _parse_shape(text: str) -> tuple[int, int, int]:
    try:
        z, y, x = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must be ZxYxX, e.g. 30x512x512, not '{text}'") from None
    if min(z, y, x) < 1:
        raise argparse.ArgumentTypeError("shape sizes must be positive")
    return z, y, x


def _segment(text: str) -> int | None:
    if text == "all":
        return None
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"segment must be a number or 'all', not '{text}'") from None
    if v < 0:
        raise argparse.ArgumentTypeError("segment must be 0 or more")
    return v


# --------------------------------------------------------------------------- commands


def cmd_info(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager info PATH [--json]``."""
    m = load_map(args.path)
    info = m.info()
    if args.json:
        json.dump(info, out, indent=2, default=_json_default)
        out.write("\n")
        return 0
    out.write(f"map: {info['name']}\n")
    out.write(f"sessions: {info['num_sessions']}\n")
    out.write(f"channels: {info['num_channels']}\n")
    out.write(f"map segments: {info['num_map_segments']}\n")
    out.write(f"objects: {info['num_objects']}\n")
    out.write(f"runs: {info['num_runs']}\n")
    out.write(f"map condition: {info['map_condition'] or '-'}\n")
    out.write("session  stack                date      days     condition  shape (z,y,x)     voxel (um)\n")
    for s in info["sessions"]:
        shape = "x".join("?" if v is None else str(v) for v in s["shape"])
        voxel = "x".join("?" if v is None else f"{v:g}" for v in s["voxel"])
        days = "?" if s["days"] is None else f"{s['days']:g}"
        out.write(
            f"{s['index']:<8} {s['stack']:<20} {s['date']:<9} {days:<8} "
            f"{s['condition'] or '-':<10} {shape:<17} {voxel}\n"
        )
    return 0


def _check_roi(m: Any, roi: str | None) -> None:
    """Raise for an ROI type the map does not have (``--roi all`` included)."""
    if roi is None:
        return
    types = sorted({str(v) for t in m.db2 for v in t.data["roiType"].tolist() if v})
    if roi not in types:
        hint = " ('all' is not a type: leave --roi out for the map's default type)" if roi == "all" else ""
        raise InvalidParameterError(
            f"map {m.name} has no ROI type '{roi}'{hint}; its types: {', '.join(types) or 'none'}"
        )


def cmd_values(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager values PATH --stat STAT ...``: the runs x sessions table."""
    m = load_map(args.path)
    _check_roi(m, args.roi)
    mv = map_values(m, args.stat, roi=args.roi, segment=args.segment, include_bad=args.include_bad)
    nses = mv.shape[1]
    if args.format == "json":
        payload = {
            "map": m.name,
            "stat": args.stat,
            "roi": args.roi or m.default_roi,
            "segment": args.segment,
            "include_bad": args.include_bad,
            "sessions": list(range(nses)),
            "runs": [int(r) for r in mv.runs],
            "values": [[_clean(float(v)) for v in row] for row in mv.values],
        }
        json.dump(payload, out)
        out.write("\n")
        return 0
    out.write(",".join(["run", *(str(j) for j in range(nses))]) + "\n")
    for r, row in zip(mv.runs, mv.values, strict=True):
        out.write(",".join([str(int(r)), *(_num(float(v)) for v in row)]) + "\n")
    return 0


def cmd_dynamics(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager dynamics PATH [--json]``: per session x segment summary."""
    m = load_map(args.path)
    _check_roi(m, args.roi)
    df = dynamics_summary(m, roi=args.roi, include_bad=args.include_bad)
    mv = map_values(m, "session", roi=args.roi, include_bad=args.include_bad)
    dyn = dynamics(mv.present())
    totals = {
        name: [int((dyn[:, j] == code).sum()) for j in range(m.num_sessions)]
        for code, name in ((1, "added"), (2, "subtracted"), (3, "transient"), (4, "persistent"))
    }
    if args.json:
        payload = {
            "map": m.name,
            "per_cell": totals,
            "summary": [
                {k: _clean(v) if isinstance(v, float) else v for k, v in rec.items()}
                for rec in df.to_dict(orient="records")
            ],
        }
        json.dump(payload, out, default=_json_default)
        out.write("\n")
        return 0
    out.write(f"map {m.name}: dynamics of {m.default_roi if args.roi is None else args.roi}\n")
    out.write("per session (runs): " + "; ".join(f"{k} {v}" for k, v in totals.items()) + "\n")
    out.write(df.to_csv(index=False, float_format="%.4g"))
    return 0


def cmd_stats(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager stats PATH``: statistics the map offers."""
    m = load_map(args.path)
    for s in statistics(m):
        out.write(s + "\n")
    return 0


def cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager validate PATH [--images]``: the report on stdout; exit 0 clean, 1 not.

    A map that cannot be loaded at all is reported like any other problem (on stdout,
    exit 1): the report is the command's output.
    """
    try:
        m = load_map(args.path)
    except (MapFormatError, MapNotFoundError) as e:
        out.write(f"{e}\n")
        return 1
    problems = m.validate(images=args.images)
    for p in problems:
        out.write(p + "\n")
    if problems:
        return 1
    out.write(f"{m.name}: ok ({m.num_sessions} sessions, {m.num_objects} objects)\n")
    return 0


def cmd_copy(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager copy SRC DEST``: read and save (the round trip)."""
    m = load_map(args.src)
    dest = Path(args.dest)
    if dest.exists() and any(dest.iterdir()) and not (dest / f"{m.name}.txt").exists():
        dest = dest / m.name
    written = m.save(dest)
    out.write(f"saved {m.name} to {written}\n")
    return 0


def _script_lines(script: str) -> list[tuple[int, str]]:
    """(line number, text) of every non-blank line of an edit script (``-``: stdin)."""
    if script == "-":
        text = sys.stdin.read() if sys.stdin is not None else ""
    else:
        text = Path(script).read_text(encoding="utf-8")
    return [(k, line.strip()) for k, line in enumerate(text.splitlines(), start=1) if line.strip()]


def cmd_edit(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager edit PATH --script FILE [--dry-run] [--user NAME]``.

    Applies the script's commands (one JSON object per line) in order, printing one line
    per command; then saves the map atomically with a backup (``--dry-run``: saves
    nothing). An invalid command stops everything: exit 1, its line named, nothing saved.
    """
    from .edits import Editor

    try:
        lines = _script_lines(args.script)
    except UnicodeDecodeError:
        raise InvalidParameterError(f"the script {args.script} is not UTF-8 text") from None
    m = load_map(args.path)
    user = args.user if args.user is not None else _login_name()
    ed = Editor(m, user=user)
    for k, text in lines:
        try:
            cmd = json.loads(text)
        except json.JSONDecodeError as e:
            sys.stderr.write(f"mapmanager: error: line {k}: not a JSON object ({e.msg}); nothing saved\n")
            return 1
        try:
            applied = ed.apply(cmd)
        except MapManagerError as e:
            sys.stderr.write(f"mapmanager: error: line {k}: {e}; nothing saved\n")
            return 1
        out.write(f"line {k}: {applied.summary}\n")
    n = len(lines)
    if args.dry_run:
        out.write(f"dry run: {n} command(s) applied, nothing saved\n")
        return 0
    if not ed.can_undo():
        out.write(f"{m.name}: no change to save ({n} command(s))\n")
        return 0
    written = m.save()
    out.write(f"saved {m.name} to {written} ({n} command(s); the previous version kept as backup)\n")
    return 0


def _login_name() -> str:
    """The user's login name (for ``userName`` of added spines), or empty."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager demo DEST ...``: write a demo map."""
    from .synthetic.maps import generate_map

    dest = Path(args.dest)
    path = generate_map(
        dest.parent if args.name is None else dest,
        name=dest.name if args.name is None else args.name,
        sessions=args.sessions,
        channels=args.channels,
        shape=args.shape,
        seed=args.seed,
        images=not args.no_images,
    )
    out.write(f"wrote demo map {path}\n")
    return 0


def cmd_render_images(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager render-images PATH``: synthetic stacks for a map without images."""
    from .synthetic.images import render_images

    def progress(done: int, total: int) -> None:
        sys.stderr.write(f"\rrendering {done}/{total} stacks")
        sys.stderr.flush()
        if done == total:
            sys.stderr.write("\n")

    paths = render_images(
        args.path, shape=args.shape, seed=args.seed, overwrite=args.overwrite, progress=progress
    )
    out.write(f"wrote {len(paths)} image stacks\n")
    return 0


def _group_arg(text: str) -> Any:
    """``--group NAME=PATTERN`` (checked when parsed: a syntax error is a usage error)."""
    from .pooling import parse_group

    try:
        return parse_group(text)
    except MapManagerError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_pool(args: argparse.Namespace, out: TextIO) -> int:
    """``mapmanager pool PATH... --stat STAT ...``: mean, SD, SEM, n per cohort and group.

    Warnings (maps left out, groups matching nothing, runs dropped) go to stderr, one line
    each; the exit status is 1 when no map could be pooled.
    """
    from .pooling import Mode, default_mode, parse_groups, pool_paths

    if args.mode is not None and args.normalize is None:
        sys.stderr.write("mapmanager: error: --mode needs --normalize REF (the reference group)\n")
        return 2
    groups = parse_groups(args.group) if args.group else None
    mode: Mode = default_mode(args.normalize, args.mode)
    res = pool_paths(
        args.paths,
        args.stat,
        groups,
        roi=args.roi,
        segment=args.segment,
        include_bad=args.include_bad,
        reference=args.normalize,
        mode=mode,
        cohorts=not args.no_cohorts,
        workers=args.workers,
    )
    for w in res.warnings:
        sys.stderr.write(f"mapmanager: warning: {w}\n")
    for n in res.notes:
        sys.stderr.write(f"mapmanager: note: {n}\n")
    if args.tidy:
        Path(args.tidy).write_text(res.tidy_csv(), encoding="utf-8")
    if args.format == "json":
        json.dump(res.to_dict(), out)
        out.write("\n")
    else:
        out.write(res.summary_csv())
    if not res.maps:
        sys.stderr.write("mapmanager: error: no map could be pooled (see the warnings)\n")
        return 1
    return 0


# --------------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2
        self.exit(2, f"mapmanager: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    p = _Parser(
        prog="mapmanager",
        description="Read, analyse and write Map Manager maps.",
        epilog=(
            "Output: results and the validate report on stdout; errors, warnings and "
            "progress on stderr, one line each. Exit status: 0 ok, 1 map problem or bad "
            "value (validate: problems found), 2 usage error, 130 interrupted."
        ),
    )
    p.add_argument("--version", action="version", version=f"mapmanager {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("info", help="describe a map")
    s.add_argument("path")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("values", help="a statistic as runs x sessions")
    s.add_argument("path")
    s.add_argument("--stat", required=True)
    s.add_argument("--roi", default=None, help="ROI type (default: the map's, usually spineROI)")
    s.add_argument("--segment", type=_segment, default=None, help="map segment number or 'all'")
    s.add_argument("--include-bad", action="store_true")
    s.add_argument("--format", choices=("csv", "json"), default="csv")
    s.set_defaults(func=cmd_values)

    s = sub.add_parser("dynamics", help="added/subtracted/transient/persistent per session and segment")
    s.add_argument("path")
    s.add_argument("--roi", default=None)
    s.add_argument("--include-bad", action="store_true")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_dynamics)

    s = sub.add_parser("stats", help="list the statistics a map offers")
    s.add_argument("path")
    s.set_defaults(func=cmd_stats)

    s = sub.add_parser(
        "validate",
        help="check that a map reads cleanly",
        description=(
            "Read every value of every file, every link and tracing, and the header and "
            "plane layout of every image. The report goes to stdout (one line per "
            "problem, or '<map>: ok'); exit 0 when clean, 1 when not."
        ),
    )
    s.add_argument("path")
    s.add_argument("--images", action="store_true", help="also decode every plane of every image")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("copy", help="read a map and save it elsewhere (round trip)")
    s.add_argument("src")
    s.add_argument("dest")
    s.set_defaults(func=cmd_copy)

    s = sub.add_parser(
        "edit",
        help="apply edit commands (a JSON object per line) to a map and save it",
        description=(
            "Apply the edit commands of FILE in order, one JSON object per line, e.g. "
            '{"op": "move", "session": 2, "row": 17, "x_um": 40.0, "y_um": 21.0, "z": 13}. '
            "Ops: add_spine, move, delete, set_bad, set_note, set_user_type, connect, "
            "disconnect, undo, redo. Rows are counted as they stand after the commands "
            "before. One line is printed per command; then the map is saved atomically, "
            "the previous version kept as backup. An invalid command: exit 1, its line "
            "named, nothing saved."
        ),
    )
    s.add_argument("path")
    s.add_argument("--script", required=True, metavar="FILE", help="the commands ('-': standard input)")
    s.add_argument("--dry-run", action="store_true", help="apply and print, save nothing")
    s.add_argument("--user", default=None, metavar="NAME", help="userName of added spines (default: login name)")
    s.set_defaults(func=cmd_edit)

    s = sub.add_parser("demo", help="write a demo map")
    s.add_argument("dest", help="the map folder to create (its name is the map's name)")
    s.add_argument("--name", default=None, help="map name (then DEST is the parent folder)")
    s.add_argument("--sessions", type=int, default=6)
    s.add_argument("--channels", type=int, default=2, choices=(1, 2, 3))
    s.add_argument("--shape", type=_parse_shape, default=(30, 512, 512), help="ZxYxX")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-images", action="store_true")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("render-images", help="synthetic image stacks for a map without images")
    s.add_argument("path")
    s.add_argument("--shape", type=_parse_shape, default=None, help="ZxYxX (default: header)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--overwrite", action="store_true")
    s.set_defaults(func=cmd_render_images)

    s = sub.add_parser(
        "pool",
        help="pool a statistic over many maps by session group and cohort",
        description=(
            "Pool a statistic over maps (PATH: a map folder or a folder of maps). A run's "
            "value in a group is its mean over the group's sessions; the summary is mean, sd, "
            "sem and n (runs) per cohort (map condition) and group. Group patterns: comma = "
            "or; a wildcard over the session condition (c*, e1), session indices (#0-2, #4-) "
            "or days (d:0-7, d:14-). Default groups: one per session condition."
        ),
    )
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--stat", required=True, help="statistic, e.g. ubssSum_int2, sLen3d_int1, pDist")
    s.add_argument(
        "--group", action="append", type=_group_arg, metavar="NAME=PATTERN",
        help="a session group (repeat; order = figure order), e.g. baseline=c* late=e2,e3",
    )  # fmt: skip
    s.add_argument("--normalize", default=None, metavar="REF", help="normalise each run to group REF")
    s.add_argument("--mode", choices=("ratio", "percent", "difference"), default=None,
                   help="normalisation (default ratio when --normalize is given)")  # fmt: skip
    s.add_argument("--roi", default=None, help="ROI type (default: each map's, usually spineROI)")
    s.add_argument("--segment", type=_segment, default=None, help="map segment number or 'all'")
    s.add_argument("--include-bad", action="store_true")
    s.add_argument("--no-cohorts", action="store_true", help="one cohort 'all' instead of mapCond")
    s.add_argument("--format", choices=("csv", "json"), default="csv")
    s.add_argument("--tidy", default=None, metavar="FILE", help="also write the tidy table (CSV)")
    s.add_argument("--workers", type=int, default=1, help="processes reading maps (default 1)")
    s.set_defaults(func=cmd_pool)

    _add_plugins(sub)
    return p


def _add_plugins(sub: Any) -> None:
    """Subcommands of other installed packages (entry-point group ``pymapmanager.cli_plugins``).

    Each entry point names a callable given the subparsers object; it adds parsers whose
    ``func(args, out) -> int`` runs the command. The web app adds ``user`` and ``group``
    this way, so the library never imports it.
    """
    from importlib.metadata import entry_points

    for ep in entry_points(group="pymapmanager.cli_plugins"):
        try:
            ep.load()(sub)
        except (ImportError, AttributeError) as e:  # a broken plugin must not break the library's commands
            log.warning("command plugin %s not loaded: %s", ep.name, e)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: the process's own).
    out : text file, optional
        Where results are written (default: standard output); errors go to standard
        error as one line, never a traceback.

    Returns
    -------
    int
        The exit status: 0 on success, 1 after an error the message explains.
    """
    out = out or sys.stdout
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args, out))
    except MapManagerError as e:
        sys.stderr.write(f"mapmanager: error: {e}\n")
        return 1
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
        return 0
    except OSError as e:
        name = Path(str(e.filename)).name if e.filename else ""
        sys.stderr.write(f"mapmanager: error: {e.strerror or e}: {name}\n".rstrip(": \n") + "\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("mapmanager: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
