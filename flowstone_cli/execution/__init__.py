"""Running a plan: the coordinator, the step runner that executes in workers, executors and retries.
"""
