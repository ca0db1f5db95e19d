"""Models of the studygroups app."""
