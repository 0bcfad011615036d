"""The ``medvision`` command line: the same core jobs as the GUI, headless."""
