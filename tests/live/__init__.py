"""Live tests: a real mockserver process on a free port."""
