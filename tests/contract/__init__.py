"""The contract image: upstream's runtime scripts over stand-ins (see README.md)."""
