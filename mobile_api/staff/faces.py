"""/staff/subjects/{id}/face-references: enrolment face photos (by upload id), list and delete (staff only)."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from backend.services.evidence import faces
from mobile_api.http.blueprint import Blueprint
from mobile_api.http.idempotent import idempotent
from mobile_api.http.security import authorize
from mobile_api.staff.schemas import FaceReferenceDeleteQuery, FaceReferenceIn, FaceReferenceOut

blp = Blueprint(
    "staff_faces", __name__, url_prefix="/api/v1/staff/subjects", description="人脸底库 Face references (staff)"
)


@blp.route("/<int:subject_id>/face-references")
class FaceReferences(MethodView):
    @authorize("face.reference.read")
    @blp.response(200, FaceReferenceOut(many=True))
    def get(self, subject_id):
        """List the subject's face references (metadata only: descriptors never leave the server); audited."""
        return faces.list_references(g.actor, subject_id)

    @authorize("face.reference.manage")
    @blp.arguments(FaceReferenceIn)
    @idempotent("face.reference")
    @blp.response(201, FaceReferenceOut)
    def post(self, data, subject_id):
        """Add a reference photo: an `enrolment` upload of mine, or a check-in selfie an officer cleared.

        The photo must hold exactly one face of usable size (else FACE_REFERENCE_NO_FACE,
        FACE_REFERENCE_MULTIPLE_FACES or FACE_REFERENCE_FACE_TOO_SMALL); `replace` swaps out the current
        references. The same upload again returns its reference with 200.
        """
        ref, created = faces.add_reference(
            g.actor,
            subject_id,
            data["upload_id"],
            legal_basis=data["legal_basis"],
            notice_given_at=data["notice_given_at"],
            replace=data["replace"],
        )
        return ref, 201 if created else 200

    @authorize("face.reference.manage")
    @blp.arguments(FaceReferenceDeleteQuery, location="query")
    @blp.response(200, FaceReferenceOut(many=True))
    def delete(self, args, subject_id):
        """Delete one reference (?reference_id=) or all of them, wiping their descriptors; returns what remains."""
        return faces.delete_references(g.actor, subject_id, args["reference_id"])
