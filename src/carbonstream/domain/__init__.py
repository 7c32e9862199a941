"""What the API, the monthly report and the CLI all show, assembled once.

Inventory, matching and green electricity, live snapshots, zero-carbon status
and intensity are built here from the store and the core; ``api`` and
``monthly`` call these modules and only parse and render around them.
"""
