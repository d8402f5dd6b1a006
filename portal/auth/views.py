"""Sign in and out, claim a bill to create a login, reset a password, quick pay as a guest."""
from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_login import current_user, login_user, logout_user

from ..audit.web import audit
from ..billing.models import Statement
from ..extensions import db, login_manager
from ..i18n import _, _l, current_locale
from ..outbox.services import queue_mail
from ..urls import public_link, safe_next
from . import quickpay, services
from .forms import (ClaimBillForm, ConfirmForm, CreateLoginForm, ForgotPasswordForm, LoginForm, QuickPayForm,
                    ResetPasswordForm)
from .limits import limit_guessing, limit_messages, note_failure
from .models import User

bp = Blueprint("auth", __name__)

CLAIM_KEY = "claimed_statement"
CLAIM_MINUTES = 30

login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to see your bills.")
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.session_token == session_token))


def _home_for(user: User) -> str:
    return url_for("billing.staff_search") if user.is_staff else url_for("billing.statements")


def _start_session(user: User, *, remember_claim: bool = True) -> None:
    """Sign ``user`` in with a fresh session, carrying over only what must survive (a pending claim)."""
    claim = session.get(CLAIM_KEY) if remember_claim else None
    # A new session at sign-in: nothing set before it (by an attacker who planted a cookie) carries over.
    session.clear()
    if claim:
        session[CLAIM_KEY] = claim
    # Permanent, so that the cookie carries an expiry that each request pushes back: an idle timeout.
    session.permanent = True
    login_user(user)


def _pending_claim() -> Statement | None:
    claim = session.get(CLAIM_KEY)
    if not claim or claim.get("expires", 0) < time.time():
        session.pop(CLAIM_KEY, None)
        return None
    return db.session.get(Statement, claim["statement_id"])


def _add_claimed_account(user: User, statement: Statement) -> None:
    if services.link_account(user, statement.account):
        audit("account.claimed", "account", statement.account_id, user=user)
    flash(_("Statement %(number)s is now in your bills.", number=statement.number), "success")


@bp.route("/login", methods=["GET", "POST"])
@limit_guessing
def login():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            note_failure()
            audit("login.failed")
            db.session.commit()
            form.password.errors.append(_("The email or password is not right. Check them and try again."))
            status = 401
        else:
            _start_session(user)
            audit("login.succeeded", "user", user.id, user=user)
            statement = _pending_claim()
            if statement is not None and not user.is_staff:
                _add_claimed_account(user, statement)
            session.pop(CLAIM_KEY, None)
            db.session.commit()
            return redirect(safe_next(request.args.get("next")) or _home_for(user))
    elif form.is_submitted():
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        audit("logout", "user", current_user.id)
        # Signing out ends the login in every browser: see services.end_sessions.
        services.end_sessions(current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
@limit_guessing
def register():
    """Step 1: prove the bill is yours with its number, the patient's date of birth and last name."""
    if current_user.is_authenticated and current_user.is_staff:
        abort(404)
    form = ClaimBillForm()
    if request.method == "GET" and request.args.get("statement"):
        form.statement_number.data = request.args["statement"][:40]
    status = 200
    if form.validate_on_submit():
        statement = services.find_claimable_statement(form.statement_number.data, form.date_of_birth.parsed,
                                                      form.last_name.data)
        if statement is None:
            note_failure()
            audit("claim.failed")
            db.session.commit()
            form.form_errors.append(_("We could not find a bill with those details. Check the statement "
                                      "number, date of birth and last name against your paper bill."))
            status = 400
        elif current_user.is_authenticated:
            _add_claimed_account(current_user, statement)
            db.session.commit()
            return redirect(url_for("billing.statement", number=statement.number))
        else:
            session[CLAIM_KEY] = {"statement_id": statement.id, "expires": time.time() + CLAIM_MINUTES * 60}
            audit("claim.verified", "statement", statement.id)
            db.session.commit()
            return redirect(url_for("auth.create_login"))
    elif form.is_submitted():
        status = 400
    return render_template("auth/register.html", form=form), status


@bp.route("/register/login", methods=["GET", "POST"])
def create_login():
    """Step 2: choose the email and password of the new login."""
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    statement = _pending_claim()
    if statement is None:
        flash(_("Please start again: enter the details from your bill first."), "info")
        return redirect(url_for("auth.register"))
    form = CreateLoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.create_patient_login(form.email.data, form.password.data, statement.account,
                                                 current_locale())
        except services.EmailTaken:
            form.email.errors.append(_("This email already has a login. Sign in with it and this bill will be "
                                       "added to your login."))
            status = 400
        else:
            _start_session(user, remember_claim=False)
            audit("login.created", "user", user.id, user=user)
            audit("account.claimed", "account", statement.account_id, user=user)
            db.session.commit()
            flash(_("Your login is ready. Here are your bills."), "success")
            return redirect(url_for("billing.statements"))
    elif form.is_submitted():
        status = 400
    return render_template("auth/create_login.html", form=form, statement=statement), status


@bp.route("/password/forgot", methods=["GET", "POST"])
@limit_messages
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        user = services.user_by_email(form.email.data)
        if user is not None:
            token = services.password_reset_token(user, current_app.config["SECRET_KEY"])
            audit("password.reset_requested", "user", user.id, user=user)
            with force_locale(user.locale or current_locale()):
                minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
                # On the public address, not the request's Host header: a forged Host would otherwise put the
                # attacker's site, and so the token, in the victim's email (password-reset poisoning).
                body = render_template("email/password_reset.txt", user=user, minutes=minutes,
                                       link=public_link("auth.reset_password", token=token))
                queue_mail(user.email, _("Reset your billing portal password"), body, kind="password_reset")
            # The worker sends it; the page does not wait for the mail server.
            db.session.commit()
        # The same answer either way, so the form cannot be used to find out who has a login.
        flash(_("If %(email)s has a login, we have sent it a link to choose a new password. The link works "
                "once.", email=form.email.data), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = services.user_for_reset_token(token[:500], current_app.config["SECRET_KEY"],
                                         current_app.config["PASSWORD_RESET_MAX_AGE"])
    if user is None:
        return render_template("auth/reset_invalid.html"), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        services.set_password(user, form.password.data)
        audit("password.reset", "user", user.id, user=user)
        db.session.commit()
        logout_user()
        session.clear()
        flash(_("Your password has been changed. Sign in with your new password."), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/quick-pay", methods=["GET", "POST"])
@limit_guessing
def quick_pay():
    """Open one statement without a login, with its number and the patient's date of birth."""
    form = QuickPayForm()
    if request.method == "GET" and request.args.get("statement"):
        form.statement_number.data = request.args["statement"][:40]
    status = 200
    if form.validate_on_submit():
        statement = services.find_statement_for_quick_pay(form.statement_number.data, form.date_of_birth.parsed)
        if statement is None:
            note_failure()
            audit("quick_pay.failed", guest=True)
            db.session.commit()
            form.form_errors.append(_("We could not find a bill with that statement number and date of birth. "
                                      "Check them against your paper bill."))
            status = 400
        else:
            quickpay.grant(session, statement.id, time.time(), current_app.config["QUICK_PAY_MINUTES"])
            audit("quick_pay.opened", "statement", statement.id, guest=True)
            db.session.commit()
            return redirect(safe_next(request.args.get("next")) or url_for("billing.statement",
                                                                            number=statement.number))
    elif form.is_submitted():
        status = 400
    return render_template("auth/quick_pay.html", form=form), status
