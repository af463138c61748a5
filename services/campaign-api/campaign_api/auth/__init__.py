"""Bearer-token authentication and team roles."""
