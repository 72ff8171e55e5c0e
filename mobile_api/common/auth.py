"""/auth: login, activation, token refresh and logout (every role)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.services.identity import auth, recovery
from mobile_api.common.schemas import ActivateIn, LoginIn, RefreshIn, ResetIn, TokensOut
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.security import authorize, client_ip, public

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录与令牌 Login and tokens")


@blp.route("/login")
class Login(MethodView):
    @public
    @blp.arguments(LoginIn)
    @blp.response(200, TokensOut)
    def post(self, data):
        """Log in with username and password; get an access and a refresh token."""
        return auth.login(data["username"], data["password"], data["device_id"], client_ip())


@blp.route("/activate")
class Activate(MethodView):
    @public
    @blp.arguments(ActivateIn)
    @blp.response(200, TokensOut)
    def post(self, data):
        """Activate a subject's account with the one-time code and set a password."""
        return auth.activate(data["activation_code"], data["password"], data["device_id"], client_ip())


@blp.route("/reset")
class Reset(MethodView):
    @public
    @blp.arguments(ResetIn)
    @blp.response(200, TokensOut)
    def post(self, data):
        """Set a new password with a staff user's one-time reset code (from an admin); every session ends."""
        return recovery.reset(data["reset_code"], data["password"], data["device_id"], client_ip())


@blp.route("/refresh")
class Refresh(MethodView):
    @public
    @blp.arguments(RefreshIn)
    @blp.response(200, TokensOut)
    def post(self, data):
        """Swap a refresh token for a new pair; the old one is spent, and reusing it revokes the login."""
        return auth.refresh(data["refresh_token"], data["device_id"])


@blp.route("/logout")
class Logout(MethodView):
    @authorize("self.read")
    @blp.response(204)
    def post(self):
        """End this login: this device's refresh tokens and access tokens stop working at once."""
        auth.logout(g.actor, g.claims["sid"])
