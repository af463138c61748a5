"""The audit trail: who did which lifecycle action on a campaign, when, from which status."""
