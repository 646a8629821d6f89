"""The chat page for `rag`: `ui.app.serve(config)` opens it, `ui.app.build_app(rag)` builds it.

Importing this package loads no model and does not import gradio.
"""
