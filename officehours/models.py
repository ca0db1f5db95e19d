"""Models of the officehours app."""
