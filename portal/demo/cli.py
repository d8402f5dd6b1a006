"""``flask --app portal demo load``."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import db
from ..glossary.cli import fail
from ..glossary.content import ContentError
from ..glossary.services import load_builtin_content
from .services import load_demo

demo_cli = AppGroup("demo", help="Demo data for trying the portal.")


@demo_cli.command("load")
def load_command() -> None:
    """Load the glossary, then the demo hospital, patients, statements and staff (safe to run again)."""
    # The demo's bills are explained with the glossary and the dictionary, so they come first.
    try:
        report = load_builtin_content()
    except ContentError as error:
        fail(error)
    db.session.commit()
    click.echo(f"Glossary loaded: {sum(report.terms.values())} terms, {sum(report.entries.values())} "
               "dictionary entries.")
    if load_demo():
        db.session.commit()
        click.echo("Demo data loaded. Sign in as patient@example.org / demo-patient-1.")
    else:
        click.echo("Demo data is already loaded; nothing changed.")


# The stand-in accepts any key of the right shape; these are public, for the demo only.
DEMO_STRIPE = {"STRIPE_SECRET_KEY": "sk_test_demo_standin", "STRIPE_PUBLISHABLE_KEY": "pk_test_demo_standin",
               "STRIPE_WEBHOOK_SECRET": "whsec_demo_standin"}


@demo_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--stripe-port", default=8420, show_default=True, type=int,
              help="Where the local Stripe stand-in listens.")
def serve_command(host: str, port: int, stripe_port: int) -> None:
    """Serve the portal with the local Stripe stand-in (localstripe) and the background worker, as
    ``make run`` does.

    The stand-in starts from scratch, learns the portal's webhook address and secret, and the portal
    is pointed at it and at its Stripe.js: the same code path as real Stripe, with test cards only.
    """
    import signal
    import subprocess
    import sys
    import time
    import urllib.parse
    import urllib.request

    from flask import current_app

    base = f"http://127.0.0.1:{stripe_port}"
    process = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(stripe_port), "--from-scratch"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The background worker sends emails (to the log, unless PORTAL_MAIL_SERVER is set) and runs the
    # scheduled jobs; its output shares this terminal.
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "portal", "worker", "--workers", "2"])
    # Stopped by `kill` or a service manager as well as by Ctrl+C: either way the children stop with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        webhook = urllib.parse.urlencode({"url": f"http://127.0.0.1:{port}/stripe/webhook",
                                          "secret": DEMO_STRIPE["STRIPE_WEBHOOK_SECRET"]}).encode()
        for _attempt in range(100):
            if process.poll() is not None:
                raise click.ClickException("the Stripe stand-in did not start (is localstripe installed? "
                                           "run `make install`)")
            try:
                urllib.request.urlopen(urllib.request.Request(f"{base}/_config/webhooks/portal", data=webhook),
                                       timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise click.ClickException(f"the Stripe stand-in did not answer on {base}")
        app = current_app._get_current_object()
        app.config.update(DEMO_STRIPE, STRIPE_API_BASE=base, STRIPE_JS_URL=f"{base}/js.stripe.com/v3/")
        click.echo(f"Stripe stand-in on {base}: pay with test card 4242 4242 4242 4242, any future date and CVC.")
        # Werkzeug's server directly: Flask will not start app.run() from inside a flask command.
        from werkzeug.serving import run_simple

        run_simple(host, port, app, threaded=True)
    finally:
        # The worker is asked to finish what it is doing (SIGINT); the stand-in simply stops.
        worker.send_signal(signal.SIGINT)
        process.terminate()
        for child in (worker, process):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
