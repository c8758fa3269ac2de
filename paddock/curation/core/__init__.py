"""The curation pipeline's plain-Python core: no Django, testable on files alone."""
