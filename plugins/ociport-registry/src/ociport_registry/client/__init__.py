"""The distribution-spec client: session (HTTP, retries, errors), auth, pull and push."""
