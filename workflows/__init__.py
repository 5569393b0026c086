"""Deterministic workflow code only: the playbook interpreter and the account journey."""
