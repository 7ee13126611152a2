"""`svcctl ui`: the whole system live on one web page (state.py gathers it with the core's own
readers, web.py serves it, actions.py is what the page may do)."""
