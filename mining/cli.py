"""`mining run STAGE [--set FILE.KEY=VALUE ...]`: one stage's notebook, as dvc.yaml runs it.

`mining strip`: the output-free notebook copies that dvc.yaml stages depend on.
"""

from __future__ import annotations

import argparse
import sys

from mining.catalog import Catalog
from mining.locks import Busy
from mining.params import ParamsError, load_params, parse_override, project_root
from mining.runner import StageFailed, run_stage, write_stripped
from mining.secrets import redact_text
from mining.stages import STAGES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mining", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute one stage's notebook and render its HTML report")
    run.add_argument("stage", choices=list(STAGES))
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="FILE.KEY=VALUE",
                     help="override a value of params/FILE.yaml for this run (repeatable)")
    sub.add_parser("strip", help="write output-free copies of the notebooks to build/notebooks (DVC deps)")
    sub.add_parser("stream", help="ingest the new JSON-lines files of ingest.stream.inbox as one micro-batch")
    sub.add_parser("kafka", help="poll ingest.stream.kafka.topic into the stream inbox (then run `mining stream`)")
    args = parser.parse_args(argv)
    if args.command == "stream":
        return stream_once()
    if args.command == "kafka":
        return kafka_once()
    if args.command == "strip":
        for path in write_stripped(project_root()):
            print(path)
        return 0
    try:
        root = project_root()
        overrides = dict(parse_override(o) for o in args.overrides)
        params = load_params(overrides, root)  # fail fast on a bad override, before a kernel starts
        result = run_stage(args.stage, root, overrides, int(params["project"]["runner"]["cell_timeout_s"]))
    except (ParamsError, StageFailed, KeyError, Busy) as exc:
        print(f"mining: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    print(f"{args.stage}: report {result.report.relative_to(root)}")
    return 0


def stream_once() -> int:
    """One micro-batch of params/ingest.yaml `stream` (run it from cron or a scheduler)."""
    from mining.data.files import IngestError
    from mining.ingest.pipeline import events_schema
    from mining.ingest.stream import run_batch

    params = load_params(root=project_root())
    cfg = params["ingest"]["stream"]
    try:
        res = run_batch(params.path(cfg["inbox"]), params.path(cfg["out"]), events_schema(params),
                        max_files=cfg.get("max_files"), registry=Catalog(params.root)["schemas"],
                        policy=params["ingest"]["schema_policy"])
    except IngestError as exc:
        print(f"mining: {exc}", file=sys.stderr)
        return 1
    if res.batch is None:
        print("stream: no new file")
    else:
        print(f"stream: batch {res.batch}: {len(res.files)} files, {res.rows_in} rows in = {res.rows_valid} valid + "
              f"{res.rows_quarantined} quarantined")
    return 0


def kafka_once() -> int:
    """One poll of the configured Kafka topic into the stream inbox."""
    from mining.data.files import IngestError
    from mining.ingest.kafka import drain
    from mining.ingest.stream import taken_files

    params = load_params(root=project_root())
    cfg = params["ingest"]["stream"]
    kafka = cfg.get("kafka") or {}
    if not kafka.get("topic"):
        print("mining: set ingest.stream.kafka.topic in params/ingest.yaml", file=sys.stderr)
        return 1
    out = params.path(cfg["out"])
    try:
        files = drain(kafka["topic"], kafka["group"], params.path(cfg["inbox"]),
                      taken_files(out) if out.exists() else set(), int(kafka["max_records"]))
    except IngestError as exc:
        print(f"mining: {exc}", file=sys.stderr)
        return 1
    print(f"kafka: {len(files)} file(s) written to the inbox" + "".join(f"\n  {f.name}" for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
