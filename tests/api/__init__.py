"""API tests: every operation through the Flask test client of a strict sandbox."""
