"""The built-in web UI: static files (HTML, JavaScript modules, CSS and the vendored uPlot
chart library) served by `luminate serve` under /ui/. Nothing here runs in Python."""
