"""Campaigns: create, edit, preview, run and read their deliveries."""
