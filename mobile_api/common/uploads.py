"""/uploads: declare a photo, send its bytes (local storage), complete it, read it; /files: signed local links."""

from __future__ import annotations

from flask import g, request, send_file, url_for
from flask.views import MethodView

from backend import runtime
from backend.services.evidence import links as uploads_links
from backend.services.evidence import uploads
from mobile_api.common.schemas import DeclareIn, DeclareOut, UploadOut, ViewQuery
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.idempotent import idempotent
from mobile_api.http.security import authorize, public

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads", description="照片上传 Photo uploads")
files_blp = Blueprint("files", __name__, url_prefix="/api/v1/files", description="照片链接 Signed photo links")


def absolute(url: str | None) -> str | None:
    """Links this server signs are paths; the phone needs them whole."""
    return request.host_url.rstrip("/") + url if url and url.startswith("/") else url


def present(v: uploads_links.UploadView) -> dict:
    """The API's view of an upload (UploadOut)."""
    u = v.upload
    links = {k: ({**d, "url": absolute(d["url"])} if isinstance(d, dict) else d) for k, d in v.links.items()}
    return {
        "id": u.id,
        "purpose": u.purpose,
        "status": u.status,
        "subject_id": u.subject_id,
        "size_bytes": u.size_bytes,
        "reasons": u.reasons,
        "facts": v.facts,
        "derivatives": links,
        "record": {"type": u.record_type, "id": u.record_id, "attached_at": u.attached_at} if u.record_type else None,
        "review": (
            {
                "status": u.review_status,
                "note": u.review_note,
                "reviewed_by": u.reviewed_by,
                "reviewed_at": u.reviewed_at,
            }
            if u.review_status
            else None
        ),
        "created_at": u.created_at,
        "completed_at": u.completed_at,
        "checked_at": u.checked_at,
    }


@blp.route("")
class Uploads(MethodView):
    @authorize("upload.create")
    @blp.arguments(DeclareIn)
    @idempotent("upload.declare")
    @blp.response(201, DeclareOut)
    def post(self, data):
        """Declare a photo (purpose, content type, size, SHA-256) and get where to send its bytes."""
        d = uploads.declare(g.actor, data["purpose"], data["content_type"], data["size_bytes"], data["sha256"])
        send = dict(d.instructions)
        if send["method"] == "PUT":
            send["url"] = absolute(url_for("uploads.UploadContent", upload_id=d.upload.id))
        return {"id": d.upload.id, "status": d.upload.status, "purpose": d.upload.purpose, "upload": send}


@blp.route("/<int:upload_id>")
class UploadById(MethodView):
    @authorize("upload.read")
    @blp.arguments(ViewQuery, location="query")
    @blp.response(200, UploadOut)
    def get(self, args, upload_id):
        """Show an upload: status, reasons, facts, derivative links and its record (staff: ?purpose= for GPS)."""
        return present(uploads_links.view(g.actor, upload_id, args["purpose"]))


@blp.route("/<int:upload_id>/content")
class UploadContent(MethodView):
    @authorize("upload.create")
    @blp.doc(requestBody={"required": True, "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}})
    @blp.response(200, UploadOut)
    def put(self, upload_id):
        """Send the photo's bytes (local storage only; 404 when uploads go to S3)."""
        request.max_content_length = runtime.settings().upload_max_bytes
        uploads.receive(g.actor, upload_id, request.stream, request.content_type)
        return present(uploads_links.view(g.actor, upload_id))


@blp.route("/<int:upload_id>/complete")
class UploadComplete(MethodView):
    @authorize("upload.create")
    @blp.response(200, UploadOut)
    def post(self, upload_id):
        """Say the bytes are there: size and SHA-256 are verified and the checks are queued."""
        uploads.complete(g.actor, upload_id)
        return present(uploads_links.view(g.actor, upload_id))


@files_blp.route("/<string:token>")
class SignedFile(MethodView):
    @public
    def get(self, token):
        """Read a photo through a short-lived link signed by this server (local storage)."""
        path, content_type, filename = uploads_links.file_for(token)
        resp = send_file(path, mimetype=content_type, as_attachment=bool(filename), download_name=filename)
        resp.headers["Cache-Control"] = "private, max-age=300"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return resp
