"""CLI: ``python -m tests.standin --host 127.0.0.1 --port 4000 --db standin.db --master-key sk-... [--enterprise]``.

Run from the repository root.  Prints ``LITELLM STAND-IN listening on <url>``
once the socket is bound, then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _json_object(text: str) -> dict:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def main(argv: list[str] | None = None) -> int:
    from .server import DEFAULT_COST_PER_REQUEST, DEFAULT_MASTER_KEY, DEFAULT_MODELS, StandinApp, StandinHTTPServer

    parser = argparse.ArgumentParser(
        prog="python -m tests.standin", description="LiteLLM admin-API stand-in (test code)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--db", default="standin.db", help="SQLite file (created if missing; ':memory:' for none)")
    parser.add_argument(
        "--master-key",
        default=os.environ.get("LITELLM_MASTER_KEY", DEFAULT_MASTER_KEY),
        help="admin key (default: $LITELLM_MASTER_KEY or the built-in test key)",
    )
    parser.add_argument(
        "--enterprise",
        action="store_true",
        help="behave as a licensed (premium) proxy: regenerate, tags, guardrails ...",
    )
    parser.add_argument(
        "--cost-per-request",
        type=float,
        default=DEFAULT_COST_PER_REQUEST,
        help="spend added per successful chat completion",
    )
    parser.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS),
        help="comma-separated model names served on the data plane; name=provider/model names the deployment "
        "behind it (its mode and token limits then come from LiteLLM's cost map, as on /v1/models)",
    )
    parser.add_argument(
        "--enable-key-alias-format-validation",
        action="store_true",
        help="like litellm_settings.enable_key_alias_format_validation: aliases must match ^[a-zA-Z0-9][a-zA-Z0-9_-/.@]{0,253}[a-zA-Z0-9]$",
    )
    parser.add_argument(
        "--disable-custom-api-keys",
        action="store_true",
        help="like general_settings.disable_custom_api_keys: /key/generate with `key` (and regenerate with "
        "`new_key`) answer 403",
    )
    parser.add_argument(
        "--default-key-generate-params",
        type=_json_object,
        default=None,
        metavar="JSON",
        help='like litellm_settings.default_key_generate_params, e.g. \'{"duration": "90d", "max_budget": 5}\'',
    )
    parser.add_argument(
        "--upperbound-key-generate-params",
        type=_json_object,
        default=None,
        metavar="JSON",
        help="like litellm_settings.upperbound_key_generate_params, e.g. '{\"tpm_limit\": 100000}'",
    )
    parser.add_argument(
        "--no-database",
        action="store_true",
        help="behave like a proxy without DATABASE_URL: management endpoints fail as LiteLLM's do, only the "
        "master key authenticates",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    app = StandinApp(
        args.db,
        args.master_key,
        enterprise=args.enterprise,
        cost_per_request=args.cost_per_request,
        models=models,
        key_alias_format_validation=args.enable_key_alias_format_validation,
        disable_custom_api_keys=args.disable_custom_api_keys,
        default_key_generate_params=args.default_key_generate_params,
        upperbound_key_generate_params=args.upperbound_key_generate_params,
        database=not args.no_database,
    )
    httpd = StandinHTTPServer((args.host, args.port), app, verbose=args.verbose)
    print(f"LITELLM STAND-IN listening on {httpd.url}", flush=True)

    def _stop(signum: int, frame: object) -> None:
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        httpd.serve_forever(poll_interval=0.1)
    finally:
        httpd.server_close()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
