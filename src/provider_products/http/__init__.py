"""The HTTP edge every domain shares: request context, body limit, access log and error rendering."""
