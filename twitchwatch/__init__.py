"""twitchwatch: the application (command line, analysis runs, evaluation, simulator).

Counts accelerometer-detected movement events in sleep, sudden jerks above all.  Never a
diagnosis.  Importing this package imports neither numba nor bleak.
"""
__version__ = "0.1.0"
