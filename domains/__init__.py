"""Domain plug-ins for the sandbox engine: each carries one API's own rules (see mockserver.behaviours.domain)."""
