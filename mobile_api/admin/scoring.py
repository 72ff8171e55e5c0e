"""/admin rule sets (list versions, publish a new one) and public credit base imports (CSV or JSON)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from sqlalchemy import select

from backend.db import db
from backend.errors import NotFound
from backend.models.scoring import CreditBaseImport, RuleSet
from backend.services.scoring import imports, recompute, rules
from mobile_api.admin.schemas import CreditImportIn, CreditImportOut, RuleSetDetailOut, RuleSetIn, RuleSetOut
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.idempotent import idempotent
from mobile_api.http.pagination import PageArgs, paginate, pagination_header
from mobile_api.http.security import authorize

blp = Blueprint("admin_scoring", __name__, url_prefix="/api/v1/admin", description="信用矫正分规则 Scoring (admin)")


@blp.route("/rule-sets")
class RuleSets(MethodView):
    @authorize("scoring.rules")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, RuleSetOut(many=True))
    def get(self, args):
        """List the rule-set versions, newest first, with the progress of their recompute."""
        with db.tx() as s:
            rules.current(s)  # the default v1 exists from the first look on
        stmt = select(RuleSet).order_by(RuleSet.version.desc())
        items, meta = paginate(db.session, stmt, args["page"], args["page_size"])
        return items, 200, pagination_header(meta)

    @authorize("scoring.rules")
    @blp.arguments(RuleSetIn)
    @idempotent("scoring.rule_set")
    @blp.response(201, RuleSetDetailOut)
    def post(self, data):
        """Publish a new rule-set version (validated); every score is recomputed under it in the background."""
        return recompute.publish(g.actor, data["rules"], data["note"])


@blp.route("/rule-sets/<int:version>")
class RuleSetByVersion(MethodView):
    @authorize("scoring.rules")
    @blp.response(200, RuleSetDetailOut)
    def get(self, version):
        """Show one rule-set version in full, with its recompute progress."""
        with db.tx() as s:
            rules.current(s)
        found = db.session.get(RuleSet, version)
        if found is None:
            raise NotFound("rule set")
        return found


@blp.route("/credit-base/imports")
class CreditBaseImports(MethodView):
    @authorize("scoring.credit_base")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, CreditImportOut(many=True))
    def get(self, args):
        """List public credit base imports with their reports, newest first."""
        stmt = select(CreditBaseImport).order_by(CreditBaseImport.id.desc())
        items, meta = paginate(db.session, stmt, args["page"], args["page_size"])
        return items, 200, pagination_header(meta)

    @authorize("scoring.credit_base")
    @blp.arguments(CreditImportIn)
    @idempotent("scoring.credit_base_import")
    @blp.response(201, CreditImportOut)
    def post(self, data):
        """Import provincial public credit scores (CSV text or JSON rows): all or nothing, with a report."""
        content = data["rows"] if data["format"] == "json" and data["rows"] is not None else data["content"]
        return imports.import_bases(content, data["format"], actor=g.actor, filename=data["filename"])


@blp.route("/credit-base/imports/<int:import_id>")
class CreditBaseImportById(MethodView):
    @authorize("scoring.credit_base")
    @blp.response(200, CreditImportOut)
    def get(self, import_id):
        """Show one import and its report."""
        found = db.session.get(CreditBaseImport, import_id)
        if found is None:
            raise NotFound("import")
        return found
