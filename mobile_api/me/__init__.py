"""The subject's app (在矫通): check-ins, requests, education and service, the score, offline sync."""
