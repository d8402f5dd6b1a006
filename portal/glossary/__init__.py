"""Plain language: the explanation glossary, the service dictionary and "why do I owe this"."""
