"""`mining run STAGE [--set FILE.KEY=VALUE ...]`: one stage's notebook, as dvc.yaml runs it.

`mining strip`: the output-free notebook copies that dvc.yaml stages depend on.
"""

from __future__ import annotations

import argparse
import os
import sys

from mining.catalog import Catalog
from mining.locks import Busy
from mining.monitor import SCENARIOS
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
    keys = sub.add_parser("keys", help="API keys of the scoring API (stored hashed; a new key is printed once)")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    add = keys_sub.add_parser("add", help="a new key for APP with the given scopes")
    add.add_argument("app")
    add.add_argument("--scopes", required=True, help="comma-separated: predict, explain, admin")
    keys_sub.add_parser("list", help="apps holding a key, their scopes and when the key was made")
    revoke = keys_sub.add_parser("revoke", help="remove APP's key")
    revoke.add_argument("app")
    serve = sub.add_parser("serve", help="the scoring API under uvicorn, as params/deploy.yaml sets it (workers, TLS, keys)")
    serve.add_argument("--set", dest="overrides", action="append", default=[], metavar="FILE.KEY=VALUE",
                       help="override a value of params/FILE.yaml, e.g. deploy.workers=1 (repeatable)")
    traffic = sub.add_parser("traffic", help="replay days of requests through the API into its inference log, with a "
                                             "scenario of change, and their outcomes into the feedback table")
    traffic.add_argument("--scenario", choices=SCENARIOS, help="default: monitor.traffic.scenario")
    traffic.add_argument("--days", type=int, help="default: monitor.traffic.days")
    traffic.add_argument("--url", default=os.environ.get("MINING_API_URL"),
                         help="the API (default $MINING_API_URL, else deploy.host:port)")
    traffic.add_argument("--key", default=os.environ.get("MINING_API_KEY"),
                         help="a key with the predict and replay scopes (default $MINING_API_KEY)")
    for name, text in (("retrain", "add the labelled feedback to the training rows, rebuild (dvc repro) and put the "
                                   "new model in shadow as the challenger"),
                       ("promote", "apply the promotion rule to the challenger in shadow (promote, reject or wait), "
                                   "then the retention policy"),
                       ("archive", "apply the retention policy: archive retired versions, rotate the inference log")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--set", dest="overrides", action="append", default=[], metavar="FILE.KEY=VALUE",
                         help="override a value of params/FILE.yaml (repeatable)")
        if name == "retrain":
            cmd.add_argument("--force", action="store_true", help="retrain although the monitor saw no reason to")
    sub.add_parser("feedback", help="make sure the labelled-feedback file exists (the DVC stage `feedback`)")
    outcomes = sub.add_parser("outcomes", help="import outcomes from operations (columns id, outcome, date) into the "
                                               "inference log's feedback table, ids pseudonymised")
    outcomes.add_argument("source", help="a CSV or Parquet file, or a SQLAlchemy URL (with --table)")
    outcomes.add_argument("--table", help="the table at the URL that holds id, outcome, date")
    approve = sub.add_parser("approve", help="record a review-board decision on the evaluated model version "
                                             "(append-only; a high-risk use case is deployed only with every role's approval)")
    approve.add_argument("version", help="the model version, as the model card names it")
    approve.add_argument("--by", required=True, help="the reviewer's name")
    approve.add_argument("--role", required=True, help="one of params/govern.yaml reviewers")
    approve.add_argument("--decision", required=True, choices=["approve", "reject"])
    approve.add_argument("--conditions", help="conditions attached to the decision")
    explain = sub.add_parser("explain", help="one page explaining the latest logged decision for a customer id "
                                             "(reasons from SHAP, what would change it)")
    explain.add_argument("id", help="the customer id as the caller sent it (the log holds its pseudonym)")
    models = sub.add_parser("models", help="the MLflow model registry: versions, promotion, rollback, archival")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    models_sub.add_parser("list", help="every registered version with its aliases, status and lineage")
    for name, text in (("promote", "make VERSION (default: the challenger) champion, once its gates, governance "
                                   "approval and (high-risk) the review board's sign-off hold"),
                       ("rollback", "the champion before the current one serves again"),
                       ("archive", "take VERSION (neither champion nor challenger) out of use")):
        cmd = models_sub.add_parser(name, help=text)
        if name != "rollback":
            cmd.add_argument("version", nargs="?" if name == "promote" else None,
                             help="a registry number or a model version (the 12-character hash)")
        cmd.add_argument("--reason", required=True, help="why, kept in the version's history")
    args = parser.parse_args(argv)
    if args.command == "models":
        return models_command(args)
    if args.command == "approve":
        return approve_command(args)
    if args.command == "explain":
        return explain_command(args)
    if args.command in ("traffic", "retrain", "promote", "archive", "feedback", "outcomes"):
        return loop_command(args)
    if args.command == "serve":
        from mining.deploy.registry import RegistryError
        from mining.deploy.server import NoKey, serve as run_server

        try:
            run_server(dict(parse_override(o) for o in args.overrides))
            return 0
        except (NoKey, FileNotFoundError, ParamsError, RegistryError) as exc:
            print(f"mining: {exc}", file=sys.stderr)
            return 1
    if args.command == "keys":
        return keys_command(args)
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


def loop_command(args: argparse.Namespace) -> int:
    """`mining traffic|retrain|promote|archive|feedback|outcomes`: the monitoring loop around the stage."""
    from mining.charter import load_charter
    from mining.deploy.releases import ReleaseError
    from mining.deploy.server import log_url
    from mining.features.feedback import ensure
    from mining.monitor import loop
    from mining.monitor.outcomes import OutcomeError
    from mining.monitor.retention import apply_retention
    from mining.monitor.traffic import TrafficError

    try:
        params = load_params(dict(parse_override(o) for o in getattr(args, "overrides", [])), root=project_root())
        if args.command == "feedback":
            print(f"feedback: {ensure(params.root)} labelled rows for the next training run")
        elif args.command == "outcomes":
            out = loop.import_outcomes_from(params, args.source, args.table)
            print(f"outcomes: {out['written']:,} written to the feedback table, {out['matched']:,} matching a logged "
                  f"decision, {out['unmatched']:,} not (yet) decided by this API")
        elif args.command == "traffic":
            d = params["deploy"]
            url = args.url or f"{'https' if d['tls_cert'] else 'http'}://{d['host']}:{d['port']}"
            if not args.key:
                raise loop.LoopError("give an API key with the predict and replay scopes: --key or $MINING_API_KEY "
                                     "(`mining keys add traffic --scopes predict,replay`)")
            out = loop.traffic(params, load_charter(params.root), url, args.key, args.scenario, args.days)
            print(f"traffic: {out['records']:,} records over {out['days']} days ({out['first_day']} to "
                  f"{out['last_day']}), scenario {out['scenario']} from {out['start_day']}; {out['outcomes']:,} "
                  f"outcomes arriving {out['label_delay_days']} days after their prediction")
        elif args.command == "retrain":
            out = loop.retrain(params, args.force)
            print(f"retrain: challenger {out['challenger']} in shadow beside champion {out['champion']} "
                  f"({out['feedback_rows']:,} feedback rows); `mining serve` now scores it in shadow")
        elif args.command == "promote":
            out = loop.promote(params)
            print(f"promote: {out['decision']} challenger {out['challenger']}: {out['reason']}")
            for action in out["archived"]:
                print(f"  {action['action']}: {action['what']} ({action['reason']})")
        else:
            for action in apply_retention(params.root, params["monitor"]["retention"], log_url(params)):
                print(f"{action['action']}: {action['what']} -> {action['path']} ({action['reason']})")
    except (ParamsError, loop.LoopError, ReleaseError, TrafficError, OutcomeError, FileNotFoundError) as exc:
        print(f"mining: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    return 0


def models_command(args: argparse.Namespace) -> int:
    """`mining models list|promote|rollback|archive`: the registry's versions and aliases."""
    from mining.deploy import releases
    from mining.deploy.registry import open_registry

    root = project_root()
    try:
        if args.models_command == "list":
            reg = open_registry(root)
            print(f"{reg.name} in {redact_text(reg.uri)}")
            print(reg.table().to_string(index=False))
        elif args.models_command == "promote":
            out = releases.promote(root, args.reason, args.version)
            print(f"promoted: {out['champion']} is champion" + (f"; {out['previous']} retired" if out["previous"] else ""))
        elif args.models_command == "rollback":
            out = releases.rollback(root, args.reason)
            print(f"rolled back: {out['champion']} is champion again; {out['rolled_back']} rolled back")
        else:
            event = releases.archive(root, args.version, args.reason)
            print(f"archived: {event['version']}")
    except releases.ReleaseError as exc:
        print(f"mining: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    return 0


def approve_command(args: argparse.Namespace) -> int:
    """`mining approve VERSION --by --role --decision`: signed against the model card as it is now."""
    from mining.reviews import ReviewRefused, record
    from mining.lineage import content_hash
    from mining.reports import read_json

    try:
        params = load_params({}, root=project_root())
        cat = Catalog(params.root)
        if not cat["model_card_json"].exists():
            raise ReviewRefused(f"no model card at {cat.relative(cat['model_card_json'])}: run the evaluate stage first")
        evaluated = read_json(cat["model_card_json"])["model"]["version"]
        if args.version != evaluated:
            raise ReviewRefused(f"the evaluated model is {evaluated}, not {args.version}: a decision is recorded against "
                                "the model card the reviewer read")
        row = record(cat["reviews"], model_version=args.version, reviewer=args.by, role=args.role,
                     decision=args.decision, conditions=args.conditions,
                     card_sha256=content_hash(cat["model_card_json"]), roles=list(params["govern"]["reviewers"]))
    except (ParamsError, ReviewRefused) as exc:
        print(f"mining: {exc}", file=sys.stderr)
        return 1
    print(f"approve: {row['decision']} of model {row['model_version']} by {row['reviewer']} ({row['role']}) at "
          f"{row['decided_at']}, card {row['card_sha256'][:12]}; recorded in {cat.relative(cat['reviews'])}")
    return 0


def explain_command(args: argparse.Namespace) -> int:
    """`mining explain ID`: reports/explanations/<pseudonym>.html for the id's latest decision."""
    from mining.deploy.explanation import NoDecision, explain_decision, write_page
    from mining.deploy.inference_log import pseudonymiser
    from mining.deploy.server import log_url

    try:
        params = load_params({}, root=project_root())
        cat = Catalog(params.root)
        pseudonym = pseudonymiser(params["deploy"]["pseudonym_key_env"], cat["pseudonym_key"])(args.id)
        e = explain_decision(params.root, log_url(params), pseudonym, list(params["govern"]["actionable"]))
        page = write_page(params.root, e)
    except (ParamsError, NoDecision, LookupError) as exc:
        print(f"mining: {args.id}: {exc}", file=sys.stderr)
        return 1
    print(f"explain: {args.id} was {e['decision']} (score {e['score']:.3f}, threshold {e['threshold']:.3f}) by model "
          f"{e['model_version']} at {e['decided_at']}; top reason: {e['reasons'][0]['text'] if e['reasons'] else 'none'}")
    print(f"  page: {cat.relative(page)}")
    return 0


def keys_command(args: argparse.Namespace) -> int:
    """`mining keys add|list|revoke` on the project's key store (params/deploy.yaml keys_url)."""
    from mining.deploy.server import key_store
    from mining.deploy.keys import KeyRefused

    store = key_store(load_params(root=project_root()))
    if args.keys_command == "add":
        try:
            key = store.add(args.app, [s.strip() for s in args.scopes.split(",") if s.strip()])
        except KeyRefused as exc:
            print(f"mining: {exc}", file=sys.stderr)
            return 1
        print(f"key for {args.app} (shown once; send it as the X-API-Key header):\n{key}")
    elif args.keys_command == "list":
        for row in store.apps():
            print(f"{row['app']}\t{row['scopes']}\t{row['created_at']}")
    elif not store.revoke(args.app):
        print(f"mining: no key for {args.app}", file=sys.stderr)
        return 1
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
