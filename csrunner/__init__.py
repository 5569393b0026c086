"""Customer-success playbook runner: everything that is neither workflow nor activity code."""
