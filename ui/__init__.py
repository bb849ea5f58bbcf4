"""The Gradio UI: one module per tab, the shared header, and the services factory.

No torch here: each event handler converts the components' values and calls one method of a
service (`ui.services.Services`) made at start-up.
"""
