"""Financial assistance: the hospital's policy, applications with their preliminary screening, and decisions."""
