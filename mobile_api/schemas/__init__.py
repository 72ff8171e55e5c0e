"""marshmallow schemas of the API's bodies; field names are the ones clients rely on (API.md)."""
