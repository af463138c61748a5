"""The campaign API: lifecycle calls, the directory and auth over HTTP."""
