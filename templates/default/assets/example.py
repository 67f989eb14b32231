"""Example assets. Every module under assets/ is discovered; parameters name upstream assets."""

from flowstone_cli import Output, RetryPolicy, asset


@asset(group="example", tags={"layer": "source"}, retry=RetryPolicy(max_attempts=3, delay=1))
def greetings(context):
    """A source asset: in a real project this would fetch from an API or a database."""
    context.log.info("producing greetings")
    return ["hello", "bonjour", "hallo", "ciao"]


@asset(group="example", io_manager="json")
def greeting_lengths(greetings):
    """A derived asset: receives the value of `greetings` and is stored as JSON."""
    return {word: len(word) for word in greetings}


@asset(group="example", io_manager="json", tags={"layer": "report"})
def summary(context, greeting_lengths):
    """The end of the pipeline, with metadata recorded next to the materialization."""
    longest = max(greeting_lengths, key=greeting_lengths.get)
    return Output({"longest": longest, "count": len(greeting_lengths)},
                  metadata={"count": len(greeting_lengths)})
