"""All I/O of the runner: rendering, email, Slack, tasks, schedules. Workflows call these."""
