"""core.events.Progress: one typed event for every long job; fields default to 'not reported'."""

from core.events import Progress


def test_a_progress_event_reports_only_what_it_sets():
    event = Progress(3, 10, losses={"loss_d": 0.5})
    assert (event.step, event.total, event.losses) == (3, 10, {"loss_d": 0.5})
    assert event.preview is None and event.message == "" and not event.done
    assert event.metrics == {} and event.history == [] and event.output is None
    assert Progress().losses is not Progress().losses  # no shared mutable defaults
