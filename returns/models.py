"""Tables of this app arrive with its issue; the app exists now so that the layout and the
dependency direction are fixed from the start (see README)."""
