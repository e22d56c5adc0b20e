"""`stylize serve`: a local studio in the browser, on the same task objects the command line builds.

    uploads.py  photos and paintings dropped on the page: checked like files on the command line, kept in a
                private temporary folder, each visible to the browser session that sent it
    recipe.py   what the page asks for (a job's kind, inputs and settings), checked against the config
                classes, the task it builds and the equivalent `stylize` command
    results.py  the output folder: names that never overwrite, atomic writes, the settings beside each
                result, listed again after a restart
    queue.py    one worker on one device: jobs queue, report progress and previews, cancel within a step
    app.py      the HTTP side (Starlette): routes, the token, the host check, limits; static files are
                package data (no CDN, no web fonts)

Nothing here prints: `stylize.cli.serve` parses the options and reports.
"""
