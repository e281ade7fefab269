"""Reports for people: one ticker's standing, an exchange's coverage picture."""
