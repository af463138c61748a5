"""CSV recipient lists: a campaign's third way to target, with per-row template variables."""
