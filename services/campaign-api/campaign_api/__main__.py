"""Run the API: ``python -m campaign_api [--host HOST] [--port PORT]``."""

from __future__ import annotations

import argparse

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the campaign API server.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    args = parser.parse_args()
    uvicorn.run(
        "campaign_api.main:app_from_environment", factory=True, host=args.host, port=args.port, log_config=None
    )


if __name__ == "__main__":
    main()
