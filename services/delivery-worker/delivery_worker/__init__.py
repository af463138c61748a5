"""The delivery worker: runs the campaign workflows and the per-recipient delivery activities."""
