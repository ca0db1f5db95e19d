"""Models of the liveSessions app."""
