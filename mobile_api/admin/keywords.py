"""/admin/keywords and /admin/suggestion-triggers: versioned, audited policy data of the field feature."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.db import db
from backend.services.field import keywords
from backend.services.suggestions import triggers
from mobile_api.admin.schemas import ClassifyIn, VersionDetailOut, VersionIn, VersionOut
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import PageArgs, paginate, pagination_header
from mobile_api.http.security import authorize

blp = Blueprint("admin_keywords", __name__, url_prefix="/api/v1/admin", description="关键词词典与建议规则 (admin)")


def _versions(module, args):
    with db.tx() as s:
        module.ensure_default(s)
    items, meta = paginate(db.session, module.versions_query(), args["page"], args["page_size"])
    return items, 200, pagination_header(meta)


@blp.route("/keywords")
class KeywordDictionaries(MethodView):
    @authorize("keywords.manage")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, VersionOut(many=True))
    def get(self, args):
        """List the keyword dictionary versions, newest (in force) first."""
        return _versions(keywords, args)

    @authorize("keywords.manage")
    @blp.arguments(VersionIn)
    @idempotent("keywords.publish")
    @blp.response(201, VersionDetailOut)
    def post(self, data):
        """Publish a new dictionary version (entries, negations, window); reports are classified with it from now on."""
        return keywords.publish(g.actor, data["data"], data["note"])


@blp.route("/keywords/<int:version>")
class KeywordDictionaryByVersion(MethodView):
    @authorize("keywords.manage")
    @blp.response(200, VersionDetailOut)
    def get(self, version):
        """Show one dictionary version in full."""
        with db.tx() as s:
            return keywords.get_version(s, version)


@blp.route("/keywords/classify")
class KeywordTry(MethodView):
    @authorize("keywords.manage")
    @blp.arguments(ClassifyIn)
    @blp.response(200)
    def post(self, data):
        """Try a sentence against the dictionary in force: hits, negated and suppressed hits, polarity."""
        with db.tx() as s:
            return keywords.classify(s, data["text"]).to_json()


@blp.route("/suggestion-triggers")
class TriggerSets(MethodView):
    @authorize("suggestion_triggers.manage")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, VersionOut(many=True))
    def get(self, args):
        """List the suggestion trigger versions, newest (in force) first."""
        return _versions(triggers, args)

    @authorize("suggestion_triggers.manage")
    @blp.arguments(VersionIn)
    @idempotent("suggestion_triggers.publish")
    @blp.response(201, VersionDetailOut)
    def post(self, data):
        """Publish a new trigger set (the built-in default triggers are version 1); the next evaluation uses it."""
        return triggers.publish(g.actor, data["data"], data["note"])


@blp.route("/suggestion-triggers/<int:version>")
class TriggerSetByVersion(MethodView):
    @authorize("suggestion_triggers.manage")
    @blp.response(200, VersionDetailOut)
    def get(self, version):
        """Show one trigger set version in full."""
        with db.tx() as s:
            return triggers.get_version(s, version)
