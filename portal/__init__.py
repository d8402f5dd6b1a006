"""The patient billing portal: ``create_app`` builds the Flask application."""
from __future__ import annotations

import os
from typing import Any

from flask import Flask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the app: configuration, extensions, blueprints and CLI commands. Nothing else."""
    app = Flask(__name__, template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"))

    from . import background, config, errors, http_headers, i18n, language, site
    from .extensions import csrf, db, limiter, login_manager, migrate

    config.load_config(app, test_config)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    http_headers.init_app(app)
    errors.init_app(app)
    site.init_app(app)
    background.init_app(app)
    language.init_app(app)

    # Every model module is imported so that Alembic and the mappers see all tables.
    from .assistance import models as _assistance_models  # noqa: F401
    from .assistance.cli import assistance_cli
    from .assistance.views import bp as assistance_bp
    from .audit import models as _audit_models  # noqa: F401
    from .auth import models as _auth_models  # noqa: F401
    from .auth.views import bp as auth_bp
    from .billing import models as _billing_models  # noqa: F401
    from .billing.views import bp as billing_bp
    from .demo.cli import demo_cli
    from .disputes import models as _dispute_models  # noqa: F401
    from .disputes.views import bp as disputes_bp
    from .glossary import models as _glossary_models  # noqa: F401
    from .glossary.cli import dictionary_cli, glossary_cli
    from .glossary.views import bp as glossary_bp
    from .health import bp as health_bp
    from .imports import models as _import_models  # noqa: F401
    from .imports.cli import import_cli
    from .outbox import models as _outbox_models  # noqa: F401
    from .outbox import tasks as outbox_tasks
    from .outbox.cli import mail_cli
    from .payments import models as _payment_models  # noqa: F401
    from .payments.cli import payments_cli
    from .payments.views import bp as payments_bp
    from .payments.webhooks import bp as webhooks_bp
    from .plans import models as _plan_models  # noqa: F401
    from .plans import tasks as plan_tasks
    from .plans.cli import plans_cli
    from .plans.views import bp as plans_bp
    from .questions import models as _question_models  # noqa: F401
    from .questions import tasks as question_tasks
    from .questions.cli import questions_cli
    from .questions.staff import bp as staff_bp
    from .questions.views import bp as questions_bp
    from .statements import models as _statement_models  # noqa: F401
    from .statements.cli import statements_cli
    from .statements.views import bp as statements_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(billing_bp)
    app.register_blueprint(glossary_bp)
    app.register_blueprint(payments_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(statements_bp)
    app.register_blueprint(questions_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(disputes_bp)
    app.register_blueprint(assistance_bp)
    app.register_blueprint(plans_bp)
    app.cli.add_command(demo_cli)
    app.cli.add_command(glossary_cli)
    app.cli.add_command(dictionary_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(statements_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(questions_cli)
    app.cli.add_command(import_cli)
    app.cli.add_command(assistance_cli)
    app.cli.add_command(plans_cli)
    outbox_tasks.register(background.task_queue(app))
    question_tasks.register(background.task_queue(app))
    plan_tasks.register(background.task_queue(app))
    return app
